"""kplay's broker core: a Kafka-faithful broker over one SQLite file.

This package never imports the UI (``app``, ``widgets``, ``textual`` or ``rich``).
"""

from .clock import Clock, ManualClock, SystemClock
from .cluster import Cluster
from .consumer import Consumer
from .errors import KafkaError
from .groups import (GroupCoordinator, GroupDescription, GroupListing, JoinGroupResult, MemberDescription,
                     PartitionLag)
from .producer import Producer
from .records import ConsumerRecord, ProducerRecord, RecordMetadata, TopicPartition

__all__ = [
    "Clock", "Cluster", "Consumer", "ConsumerRecord", "GroupCoordinator", "GroupDescription", "GroupListing",
    "JoinGroupResult", "KafkaError", "ManualClock", "MemberDescription", "PartitionLag", "Producer",
    "ProducerRecord", "RecordMetadata", "SystemClock", "TopicPartition",
]
