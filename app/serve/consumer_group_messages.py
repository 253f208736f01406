"""ConsumerGroupHeartbeat (key 68) and ConsumerGroupDescribe (key 69): KIP-848's APIs on the wire.

kafka-python 3.0 has no classes for them, but its ``ApiMessage`` builds a codec (flexible
versions, tagged fields, request header v2 / response header v1) from Kafka's own JSON
message definitions; kplay ships those definitions (``kafka_schemas``) and lets it.
"""

from __future__ import annotations

from kafka.protocol.api_message import ApiMessage

from . import kafka_schemas


class ConsumerGroupHeartbeatRequest(ApiMessage, load_json=kafka_schemas):
    """ConsumerGroupHeartbeat request, versions 0-1 (v1 adds SubscribedTopicRegex)."""


class ConsumerGroupHeartbeatResponse(ApiMessage, load_json=kafka_schemas):
    """ConsumerGroupHeartbeat response."""


class ConsumerGroupDescribeRequest(ApiMessage, load_json=kafka_schemas):
    """ConsumerGroupDescribe request, version 0."""


class ConsumerGroupDescribeResponse(ApiMessage, load_json=kafka_schemas):
    """ConsumerGroupDescribe response."""
