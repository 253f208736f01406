"""Kafka Connect's single message transforms and predicates, with Kafka's class and config names."""

from .chain import TRANSFORMS, TransformChain, config_errors, is_framework_key
from .record import ConnectRecord

__all__ = ["ConnectRecord", "TRANSFORMS", "TransformChain", "config_errors", "is_framework_key"]
