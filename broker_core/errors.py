"""Kafka's errors, with Kafka's names and numeric codes.

A learner who meets ``UnknownTopicOrPartition (3)`` here will meet the same name and
code from a real broker later, so every failure the core reports is one of these.
"""

from __future__ import annotations


class KafkaError(Exception):
    """Base of every error the broker core raises on purpose.

    ``name`` is Kafka's error name (as in ``org.apache.kafka.common.protocol.Errors``)
    and ``code`` its numeric error code on the wire.
    """

    name: str = "UNKNOWN_SERVER_ERROR"
    code: int = -1
    retriable: bool = False

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.name)
        self.message = message or self.name

    def __str__(self) -> str:
        return self.message


class OffsetOutOfRange(KafkaError):
    """The requested offset is not within the range of offsets kept for the partition."""

    name, code = "OFFSET_OUT_OF_RANGE", 1


class CorruptRecord(KafkaError):
    """A record failed its validation."""

    name, code = "CORRUPT_MESSAGE", 2


class UnknownTopicOrPartition(KafkaError):
    """The topic or partition does not exist."""

    name, code, retriable = "UNKNOWN_TOPIC_OR_PARTITION", 3, True


class LeaderNotAvailable(KafkaError):
    """The partition has no leader right now (for example during an election)."""

    name, code, retriable = "LEADER_NOT_AVAILABLE", 5, True


class NotLeaderOrFollower(KafkaError):
    """The broker asked is not the leader (or a follower) of the partition."""

    name, code, retriable = "NOT_LEADER_OR_FOLLOWER", 6, True


class RequestTimedOut(KafkaError):
    """The request did not complete in time."""

    name, code, retriable = "REQUEST_TIMED_OUT", 7, True


class RecordTooLarge(KafkaError):
    """A record is larger than ``message.max.bytes``."""

    name, code = "MESSAGE_TOO_LARGE", 10


class CoordinatorNotAvailable(KafkaError):
    """The group coordinator is not available."""

    name, code, retriable = "COORDINATOR_NOT_AVAILABLE", 15, True


class InvalidTopic(KafkaError):
    """The topic name is illegal."""

    name, code = "INVALID_TOPIC_EXCEPTION", 17


class NotEnoughReplicas(KafkaError):
    """acks=all and fewer in-sync replicas than ``min.insync.replicas``."""

    name, code, retriable = "NOT_ENOUGH_REPLICAS", 19, True


class NotEnoughReplicasAfterAppend(KafkaError):
    """The record was written but the ISR shrank below ``min.insync.replicas``."""

    name, code, retriable = "NOT_ENOUGH_REPLICAS_AFTER_APPEND", 20, True


class InvalidRequiredAcks(KafkaError):
    """``acks`` is not one of 0, 1, -1 (all)."""

    name, code = "INVALID_REQUIRED_ACKS", 21


class IllegalGeneration(KafkaError):
    """The member's generation id is not the group's current generation."""

    name, code = "ILLEGAL_GENERATION", 22


class InconsistentGroupProtocol(KafkaError):
    """The member's protocols have nothing in common with the group's."""

    name, code = "INCONSISTENT_GROUP_PROTOCOL", 23


class InvalidGroupId(KafkaError):
    """The group id is empty or otherwise illegal."""

    name, code = "INVALID_GROUP_ID", 24


class UnknownMemberId(KafkaError):
    """The member id is not known to the group (for example it expired)."""

    name, code = "UNKNOWN_MEMBER_ID", 25


class InvalidSessionTimeout(KafkaError):
    """The session timeout is outside the broker's allowed range."""

    name, code = "INVALID_SESSION_TIMEOUT", 26


class RebalanceInProgress(KafkaError):
    """The group is rebalancing; the member must rejoin."""

    name, code = "REBALANCE_IN_PROGRESS", 27


class InvalidCommitOffsetSize(KafkaError):
    """The committed metadata is too large."""

    name, code = "INVALID_COMMIT_OFFSET_SIZE", 28


class TopicAlreadyExists(KafkaError):
    """A topic with this name already exists."""

    name, code = "TOPIC_ALREADY_EXISTS", 36


class InvalidPartitions(KafkaError):
    """The partition count is illegal (below 1, or not an increase)."""

    name, code = "INVALID_PARTITIONS", 37


class InvalidReplicationFactor(KafkaError):
    """The replication factor is below 1 or above the number of live brokers."""

    name, code = "INVALID_REPLICATION_FACTOR", 38


class InvalidRequest(KafkaError):
    """The request is malformed."""

    name, code = "INVALID_REQUEST", 42


class InvalidTimestamp(KafkaError):
    """A record's timestamp is out of the acceptable range."""

    name, code = "INVALID_TIMESTAMP", 32


class InvalidConfig(KafkaError):
    """A configuration key is unknown or its value is illegal."""

    name, code = "INVALID_CONFIG", 40


class NotController(KafkaError):
    """The broker asked is not the controller."""

    name, code, retriable = "NOT_CONTROLLER", 41, True


class BrokerNotAvailable(KafkaError):
    """The broker is not available (stopped)."""

    name, code = "BROKER_NOT_AVAILABLE", 8


class GroupIdNotFound(KafkaError):
    """The group does not exist."""

    name, code = "GROUP_ID_NOT_FOUND", 69


class NonEmptyGroup(KafkaError):
    """The group still has members, so it cannot be deleted or reset."""

    name, code = "NON_EMPTY_GROUP", 68


class FencedLeaderEpoch(KafkaError):
    """The leader epoch in the request is older than the broker's."""

    name, code, retriable = "FENCED_LEADER_EPOCH", 74, True


class PreferredLeaderNotAvailable(KafkaError):
    """The preferred leader (first replica) is not alive or not in the ISR."""

    name, code, retriable = "PREFERRED_LEADER_NOT_AVAILABLE", 80, True


class EligibleLeadersNotAvailable(KafkaError):
    """No live replica can become the partition's leader."""

    name, code, retriable = "ELIGIBLE_LEADERS_NOT_AVAILABLE", 83, True


class ElectionNotNeeded(KafkaError):
    """The partition already has the leader the election would choose."""

    name, code, retriable = "ELECTION_NOT_NEEDED", 84, True


class InvalidRecord(KafkaError):
    """The broker refused a record (for example one without a key on a compacted topic)."""

    name, code = "INVALID_RECORD", 87


class OutOfOrderSequenceNumber(KafkaError):
    """An idempotent producer's batch does not follow the last one the partition has from it."""

    name, code = "OUT_OF_ORDER_SEQUENCE_NUMBER", 45


class InvalidProducerEpoch(KafkaError):
    """An idempotent producer's epoch is older than one the partition has already seen."""

    name, code = "INVALID_PRODUCER_EPOCH", 47


class InvalidTxnState(KafkaError):
    """The request does not fit the transaction's state (committing an aborted one, for example)."""

    name, code = "INVALID_TXN_STATE", 48


class InvalidProducerIdMapping(KafkaError):
    """The transactional id is unknown, or mapped to another producer id."""

    name, code = "INVALID_PRODUCER_ID_MAPPING", 49


class InvalidTransactionTimeout(KafkaError):
    """``transaction.timeout.ms`` is not above 0 and at most the broker's ``transaction.max.timeout.ms``."""

    name, code = "INVALID_TRANSACTION_TIMEOUT", 50


class ConcurrentTransactions(KafkaError):
    """The transaction is still being completed (its markers being written): try again."""

    name, code, retriable = "CONCURRENT_TRANSACTIONS", 51, True


class OperationNotAttempted(KafkaError):
    """Another part of the same request failed, so this part was not attempted."""

    name, code = "OPERATION_NOT_ATTEMPTED", 55


class ProducerFenced(KafkaError):
    """A newer producer with the same transactional id (a higher epoch) has fenced this one."""

    name, code = "PRODUCER_FENCED", 90


class TransactionalIdNotFound(KafkaError):
    """No transaction has this transactional id."""

    name, code = "TRANSACTIONAL_ID_NOT_FOUND", 105


class StorageError(KafkaError):
    """The data file cannot be used (not a kplay database, or a newer schema)."""

    name, code = "KAFKA_STORAGE_ERROR", 56


class StorageClosed(StorageError):
    """The data file was closed by this process (a background task outlived its cluster)."""


class PolicyViolation(KafkaError):
    """The request breaks a configured policy (deleting records of a compact-only topic)."""

    name, code = "POLICY_VIOLATION", 44


class UnsupportedVersion(KafkaError):
    """The request's API version is not one the broker accepts for it."""

    name, code = "UNSUPPORTED_VERSION", 35


class FencedInstanceId(KafkaError):
    """Another member with the same static instance id replaced this one."""

    name, code = "FENCED_INSTANCE_ID", 82


class FencedMemberEpoch(KafkaError):
    """KIP-848: the member's epoch is fenced; it must abandon all its partitions and rejoin."""

    name, code = "FENCED_MEMBER_EPOCH", 110


class UnreleasedInstanceId(KafkaError):
    """KIP-848: the instance id is still used by another member, which must leave first."""

    name, code = "UNRELEASED_INSTANCE_ID", 111


class UnsupportedAssignor(KafkaError):
    """KIP-848: the server-side assignor the member asked for is not one the broker has."""

    name, code = "UNSUPPORTED_ASSIGNOR", 112


class StaleMemberEpoch(KafkaError):
    """KIP-848: a commit or fetch with an old member epoch; retry with the current one."""

    name, code = "STALE_MEMBER_EPOCH", 113


class InvalidRegularExpression(KafkaError):
    """KIP-848: the subscribed topic regex does not compile."""

    name, code = "INVALID_REGULAR_EXPRESSION", 128


ALL_ERRORS: tuple[type[KafkaError], ...] = tuple(
    cls for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, KafkaError)
)
