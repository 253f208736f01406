"""Malformed requests are logged a few times a minute, not once each (issue 18 item 15)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from app.serve.log_rate_limit import DEFAULT_BURST, RateLimitedWarnings
from app.serve.servers import start_servers
from broker_core import Cluster


async def test_a_flood_of_malformed_requests_logs_a_bounded_number_of_warnings(
        cluster: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    servers = await start_servers(cluster, host="127.0.0.1", port=0, rest=False)
    try:
        host, port = next(iter(servers.kafka.advertised_endpoints().values()))
        caplog.set_level(logging.INFO, logger="kplay.serve")
        for _ in range(60):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"\x00\x00\x00\x01x")  # a request smaller than any header
            await writer.drain()
            assert await asyncio.wait_for(reader.read(), 10) == b""  # the broker hangs up
            writer.close()
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "kplay.serve"]
        assert len(warnings) == DEFAULT_BURST
        assert "smaller than a request header" in warnings[0].getMessage()
    finally:
        await servers.stop()


def test_after_the_window_the_next_warning_says_how_many_were_left_out() -> None:
    now = [0.0]
    limit = RateLimitedWarnings(burst=2, window_s=60, clock=lambda: now[0])
    logger = logging.getLogger("test.rate-limit")

    def record(peer: str) -> logging.LogRecord:
        return logger.makeRecord(logger.name, logging.WARNING, __file__, 0, "bad request from %s", (peer,), None)

    assert [limit.filter(record(str(i))) for i in range(5)] == [True, True, False, False, False]
    assert limit.filter(logger.makeRecord(logger.name, logging.INFO, __file__, 0, "info", (), None))
    now[0] = 61.0
    passed = record("late")
    assert limit.filter(passed)
    assert passed.getMessage() == ("bad request from late (3 more like this were not logged; "
                                   "at most 2 per 60 s are)")
