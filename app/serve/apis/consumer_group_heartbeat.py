"""ConsumerGroupHeartbeat (KIP-848's consumer group protocol): refused at once until kplay has it.

A client with ``group.protocol=consumer`` (librdkafka 2.4+, Java 3.7+) sends only this
API to join a group; on a broker that does not list it, librdkafka waits silently. So
kplay lists it and answers every heartbeat UNSUPPORTED_VERSION with a message saying
what to do instead.
"""

from __future__ import annotations

from typing import Any

from ..consumer_group_messages import ConsumerGroupHeartbeatResponse
from .context import RequestContext, WireError

MESSAGE = ("the consumer group protocol (KIP-848, group.protocol=consumer) is not supported by kplay serve yet: "
           "use group.protocol=classic")


async def handle_consumer_group_heartbeat(ctx: RequestContext, request: Any) -> ConsumerGroupHeartbeatResponse:
    """ConsumerGroupHeartbeat: UNSUPPORTED_VERSION with a message naming what is missing."""
    return ConsumerGroupHeartbeatResponse(WireError.UNSUPPORTED_VERSION, MESSAGE)
