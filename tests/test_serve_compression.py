"""Compressed produce requests (issue 18 item 10): limited as sent, expanded within a bound.

Kafka checks ``max.message.bytes`` against the batch as the producer sent it (compressed)
and validates records while streaming through it. kplay does the same check, and holds at
most a fixed number of decompressed bytes per request: a tiny zstd batch that expands to
hundreds of megabytes is refused early, with the server's peak memory measured from
outside (``VmHWM`` of the ``kplay serve`` process).
"""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

import pytest
import zstandard
from kafka.protocol.producer import ProduceRequest, ProduceResponse
from kafka.record.memory_records import MemoryRecordsBuilder
from kafka.record.util import calc_crc32c

from cli_harness import LiveTool, create_topics
from test_serve_protocol import CLIENT_ID, Client, produce
from test_serve_support import ServedCluster, read_frame

CODEC_ZSTD = 4
#: Peak memory the server may reach while refusing the batch below (it starts near 100 MB;
#: expanding the batch whole, as before, took it past 800 MB).
PEAK_RSS_BOUND_MB = 350


def zigzag_varint(value: int) -> bytes:
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def zstd_batch_of_zeros(value_size: int) -> bytes:
    """One record whose value is ``value_size`` zero bytes, as a zstd batch of a few KB."""
    body_head = b"\x00" + zigzag_varint(0) + zigzag_varint(0) + zigzag_varint(-1) + zigzag_varint(value_size)
    record_length = len(body_head) + value_size + 1  # + the headers count
    compressor = zstandard.ZstdCompressor().compressobj()
    parts = [compressor.compress(zigzag_varint(record_length) + body_head)]
    zeros = bytes(1 << 20)
    left = value_size
    while left:
        chunk = zeros[:min(left, len(zeros))]
        parts.append(compressor.compress(chunk))
        left -= len(chunk)
    parts.append(compressor.compress(zigzag_varint(0)))
    parts.append(compressor.flush())
    payload = b"".join(parts)
    now = int(time.time() * 1000)
    after_crc = struct.pack(">hiqqqhii", CODEC_ZSTD, 0, now, now, -1, -1, -1, 1) + payload
    crc = calc_crc32c(after_crc)
    head = struct.pack(">ibI", -1, 2, crc)
    return struct.pack(">qi", 0, len(head) + len(after_crc)) + head + after_crc


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_a_zstd_bomb_is_refused_within_bounded_memory(data_path: Path) -> None:
    create_topics(data_path, {"bomb": 1})
    batch = zstd_batch_of_zeros(600 * 1024 * 1024)
    assert len(batch) < 64 * 1024  # well under max.message.bytes as sent
    tool = LiveTool(data_path, "serve", "--port", "0", "--kafka-only")
    try:
        lines: list[str] = []
        while not lines or lines[-1] != "Press Ctrl+C to stop.":
            more = tool.read_lines(1, timeout_s=60)
            assert more, f"kplay serve did not start: {lines} {tool.stderr_so_far()}"
            lines.extend(more)
        address = next(line.split(": ")[1] for line in lines if line.startswith("Kafka broker 0: "))
        host, port = address.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=60)
        try:
            part = ProduceRequest.TopicProduceData.PartitionProduceData(index=0, records=batch)
            request = ProduceRequest(version=8, transactional_id=None, acks=1, timeout_ms=30_000,
                                     topic_data=[ProduceRequest.TopicProduceData(name="bomb", partition_data=[part])])
            request.with_header(correlation_id=1, client_id=CLIENT_ID)
            sock.sendall(request.encode(header=True, framed=True))
            frame = read_frame(sock)
            assert frame is not None
            answer = ProduceResponse.decode(frame, version=8, header=True).responses[0].partition_responses[0]
        finally:
            sock.close()
        peak = peak_rss_mb(tool.proc.pid)
    finally:
        tool.kill()
    assert answer.error_code == 10, answer  # MESSAGE_TOO_LARGE
    assert "decompresses to more than" in answer.error_message
    assert peak < PEAK_RSS_BOUND_MB, f"kplay serve peaked at {peak:.0f} MB"
    print(f"kplay serve peaked at {peak:.0f} MB refusing a {len(batch)}-byte zstd batch of 600 MB of zeros")


@pytest.mark.parametrize("codec", [1, 2, 3, 4], ids=["gzip", "snappy", "lz4", "zstd"])
def test_a_compressed_batch_is_limited_as_sent_not_as_expanded(tmp_path: Path, codec: int) -> None:
    served = ServedCluster(tmp_path / "cluster.db").start()
    try:
        served.create_topic("small", max_message_bytes=10_000)
        builder = MemoryRecordsBuilder(magic=2, compression_type=codec, batch_size=1 << 20)
        builder.append(int(time.time() * 1000), b"k", bytes(50_000), [])
        builder.append(int(time.time() * 1000), b"k2", b"second", [("h", b"v")])
        builder.close()
        batch = bytes(builder.records()._buffer)
        assert len(batch) < 10_000
        client = Client(served, served.leader("small", 0))
        try:
            answer = produce(client, "small", 0, batch).responses[0].partition_responses[0]
        finally:
            client.close()
        stored = served.log("small", 0)
    finally:
        served.stop()
    assert answer.error_code == 0, answer.error_message  # Kafka accepts it: 50 KB expanded, tiny as sent
    assert [(record.key, len(record.value)) for record in stored] == [(b"k", 50_000), (b"k2", 6)]
    assert list(stored[1].headers) == [("h", b"v")]
