"""Kafka's JSON message definitions for APIs kafka-python 3.0 has no classes for.

Copied unchanged from apache/kafka (clients/src/main/resources/common/message/, commit
1eb7644349cb07139d6a3c1ad1986979647cac99); kafka-python's ``ApiMessage`` builds the codec
from them (``consumer_group_messages.py``), as it does for its own bundled definitions.
"""
