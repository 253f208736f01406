"""Request handlers, one module per group of APIs, and the table from API key to handler.

Every handler takes the ``RequestContext`` and the request decoded by kafka-python's
generated class, calls the broker core, and returns the response object (or None when
Kafka sends no response). No Kafka semantics live here: they are the core's.
"""

from __future__ import annotations

from ..api_versions import ApiKey
from .admin import (handle_alter_configs, handle_create_partitions, handle_create_topics, handle_delete_records,
                    handle_delete_topics, handle_describe_configs, handle_elect_leaders,
                    handle_incremental_alter_configs)
from .consumer_groups import handle_consumer_group_describe, handle_consumer_group_heartbeat
from .context import CloseConnection, Handler, RequestContext, WireError
from .fetch import handle_fetch
from .groups import (handle_delete_groups, handle_describe_groups, handle_heartbeat, handle_join_group,
                     handle_leave_group, handle_list_groups, handle_sync_group)
from .leader_epochs import handle_offset_for_leader_epoch
from .list_offsets import handle_list_offsets
from .metadata import (api_versions_body, handle_api_versions, handle_describe_cluster, handle_find_coordinator,
                       handle_metadata)
from .offsets import handle_offset_commit, handle_offset_fetch
from .produce import handle_init_producer_id, handle_produce
from .transactions import (handle_add_offsets_to_txn, handle_add_partitions_to_txn, handle_describe_transactions,
                           handle_end_txn, handle_list_transactions, handle_txn_offset_commit)

HANDLERS: dict[int, Handler] = {
    ApiKey.PRODUCE: handle_produce,
    ApiKey.FETCH: handle_fetch,
    ApiKey.LIST_OFFSETS: handle_list_offsets,
    ApiKey.METADATA: handle_metadata,
    ApiKey.OFFSET_COMMIT: handle_offset_commit,
    ApiKey.OFFSET_FETCH: handle_offset_fetch,
    ApiKey.FIND_COORDINATOR: handle_find_coordinator,
    ApiKey.JOIN_GROUP: handle_join_group,
    ApiKey.HEARTBEAT: handle_heartbeat,
    ApiKey.LEAVE_GROUP: handle_leave_group,
    ApiKey.SYNC_GROUP: handle_sync_group,
    ApiKey.DESCRIBE_GROUPS: handle_describe_groups,
    ApiKey.LIST_GROUPS: handle_list_groups,
    ApiKey.API_VERSIONS: handle_api_versions,
    ApiKey.CREATE_TOPICS: handle_create_topics,
    ApiKey.DELETE_TOPICS: handle_delete_topics,
    ApiKey.DELETE_RECORDS: handle_delete_records,
    ApiKey.INIT_PRODUCER_ID: handle_init_producer_id,
    ApiKey.OFFSET_FOR_LEADER_EPOCH: handle_offset_for_leader_epoch,
    ApiKey.DESCRIBE_CONFIGS: handle_describe_configs,
    ApiKey.CREATE_PARTITIONS: handle_create_partitions,
    ApiKey.DELETE_GROUPS: handle_delete_groups,
    ApiKey.ELECT_LEADERS: handle_elect_leaders,
    ApiKey.ALTER_CONFIGS: handle_alter_configs,
    ApiKey.INCREMENTAL_ALTER_CONFIGS: handle_incremental_alter_configs,
    ApiKey.DESCRIBE_CLUSTER: handle_describe_cluster,
    ApiKey.ADD_PARTITIONS_TO_TXN: handle_add_partitions_to_txn,
    ApiKey.ADD_OFFSETS_TO_TXN: handle_add_offsets_to_txn,
    ApiKey.END_TXN: handle_end_txn,
    ApiKey.TXN_OFFSET_COMMIT: handle_txn_offset_commit,
    ApiKey.DESCRIBE_TRANSACTIONS: handle_describe_transactions,
    ApiKey.LIST_TRANSACTIONS: handle_list_transactions,
    ApiKey.CONSUMER_GROUP_HEARTBEAT: handle_consumer_group_heartbeat,
    ApiKey.CONSUMER_GROUP_DESCRIBE: handle_consumer_group_describe,
}

__all__ = ["HANDLERS", "CloseConnection", "Handler", "RequestContext", "WireError", "api_versions_body"]
