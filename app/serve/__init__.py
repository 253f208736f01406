"""``kplay serve``: the playground behind Kafka's wire protocol, for real client libraries.

``KafkaServer`` (``kafka_server.py``) opens one listener per simulated broker and answers
Kafka's protocol with kafka-python's generated request and response classes; the
handlers in ``apis/`` call the broker core and hold no Kafka semantics of their own. The
APIs and versions advertised are data, in ``api_versions.py``.
"""

from .kafka_server import DEFAULT_HOST, DEFAULT_PORT, BrokerSettings, KafkaServer

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "BrokerSettings", "KafkaServer"]
