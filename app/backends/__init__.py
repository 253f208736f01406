"""Backends: one interface over the clusters kplay can open (see ``interface``).

``EmbeddedBackend`` is the playground's data file; ``KafkaClientBackend`` is any Kafka cluster
through confluent-kafka. Neither imports Textual or Rich.
"""

from .embedded import EmbeddedBackend
from .interface import Backend, Capability, ClusterUnreachable, ReadOnlyCluster, Unsupported

__all__ = ["Backend", "Capability", "ClusterUnreachable", "EmbeddedBackend", "ReadOnlyCluster", "Unsupported"]
