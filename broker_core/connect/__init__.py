"""Kafka Connect in kplay: a worker running Confluent's JDBC source and sink connectors.

Connector configs, statuses and source offsets live in the broker's compacted internal
topics (``connect-configs``, ``connect-status``, ``connect-offsets``), as in Kafka Connect's
distributed mode; databases are reached through SQLAlchemy (SQLite files, PostgreSQL
with psycopg 3). See ``worker.ConnectWorker`` for the API.
"""

from .config import ConnectorConfig, validate_connector_config
from .errors import ConnectError, ConnectorAlreadyExists, ConnectorConfigInvalid, ConnectorNotFound
from .generator import DataGenerator, iris_rows
from .worker import ConnectorInfo, ConnectorOverview, ConnectorStateInfo, ConnectWorker, TaskState

__all__ = [
    "ConnectError", "ConnectWorker", "ConnectorAlreadyExists", "ConnectorConfig", "ConnectorConfigInvalid",
    "ConnectorInfo", "ConnectorNotFound", "ConnectorOverview", "ConnectorStateInfo", "DataGenerator", "TaskState",
    "iris_rows", "validate_connector_config",
]
