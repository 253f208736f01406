"""The data file's tables for KIP-848 consumer groups (``group.protocol=consumer``).

Kept beside the classic ``groups``/``group_members`` tables: a group id is in one or the
other. ``IF NOT EXISTS``: a data file made before these tables existed gets them when it is
opened (additive; the schema version stays the same, and older kplays ignore them).
"""

from __future__ import annotations

CONSUMER_GROUP_TABLES: tuple[str, ...] = (
    # subscription_metadata: JSON {topic: partition count} of the topics the members subscribe
    # to, as last seen; a change (a topic created, partitions added) bumps the group epoch.
    """CREATE TABLE IF NOT EXISTS consumer_groups(
        group_id TEXT PRIMARY KEY,
        group_epoch INTEGER NOT NULL DEFAULT 0,
        assignment_epoch INTEGER NOT NULL DEFAULT 0,
        subscription_metadata TEXT NOT NULL DEFAULT '{}'
    ) WITHOUT ROWID""",
    # Partition sets are JSON {topic: [partitions]}: assigned (the member may use them),
    # pending_revocation (it must give them up) and target (the assignor's latest word).
    # revocation_deadline: when a member still holding revoked partitions is fenced (0: none).
    """CREATE TABLE IF NOT EXISTS consumer_group_members(
        group_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        instance_id TEXT,
        rack_id TEXT,
        client_id TEXT NOT NULL DEFAULT '',
        client_host TEXT NOT NULL DEFAULT '',
        member_epoch INTEGER NOT NULL,
        previous_member_epoch INTEGER NOT NULL,
        state TEXT NOT NULL,
        rebalance_timeout_ms INTEGER NOT NULL,
        session_timeout_ms INTEGER NOT NULL,
        server_assignor TEXT,
        subscribed_topic_names TEXT NOT NULL DEFAULT '[]',
        subscribed_topic_regex TEXT,
        assigned TEXT NOT NULL DEFAULT '{}',
        pending_revocation TEXT NOT NULL DEFAULT '{}',
        target TEXT NOT NULL DEFAULT '{}',
        last_heartbeat INTEGER NOT NULL,
        revocation_deadline INTEGER NOT NULL DEFAULT 0,
        join_seq INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY(group_id, member_id)
    ) WITHOUT ROWID""",
)
