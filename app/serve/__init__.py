"""``kplay serve``: the playground behind Kafka's wire protocol, for real client libraries.

``KafkaServer`` (``kafka_server.py``) opens one listener per simulated broker and answers
Kafka's protocol with kafka-python's generated request and response classes; the
handlers in ``apis/`` call the broker core and hold no Kafka semantics of their own. The
APIs and versions advertised are data, in ``api_versions.py``. ``start_servers``
(``servers.py``) starts the listeners and the REST APIs together, for ``kplay serve`` and
``kplay --serve``.
"""

import importlib
import logging
from typing import Any

# A library's log lines go nowhere until the program says where (kplay serve: stderr; the
# TUI must not have them written over its screen).
logging.getLogger("kplay.serve").addHandler(logging.NullHandler())

# Where each public name lives. Loaded on first use (PEP 562), not when the package is: the
# wire server pulls in kafka-python's protocol classes (~0.15 s), and the playground and
# most commands import only app.serve.group_placement or app.serve.broker_settings.
_EXPORTS = {"DEFAULT_HOST": "kafka_server", "DEFAULT_PORT": "kafka_server", "BrokerSettings": "kafka_server",
            "KafkaServer": "kafka_server", "RunningServers": "servers", "start_servers": "servers"}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the submodule holding ``name`` the first time it is asked for."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
