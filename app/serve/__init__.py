"""``kplay serve``: the playground behind Kafka's wire protocol, for real client libraries.

``KafkaServer`` (``kafka_server.py``) opens one listener per simulated broker and answers
Kafka's protocol with kafka-python's generated request and response classes; the
handlers in ``apis/`` call the broker core and hold no Kafka semantics of their own. The
APIs and versions advertised are data, in ``api_versions.py``. ``start_servers``
(``servers.py``) starts the listeners and the REST APIs together, for ``kplay serve`` and
``kplay --serve``.
"""

import logging

from .kafka_server import DEFAULT_HOST, DEFAULT_PORT, BrokerSettings, KafkaServer
from .servers import RunningServers, start_servers

# A library's log lines go nowhere until the program says where (kplay serve: stderr; the
# TUI must not have them written over its screen).
logging.getLogger("kplay.serve").addHandler(logging.NullHandler())

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "BrokerSettings", "KafkaServer", "RunningServers", "start_servers"]
