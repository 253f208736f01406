""""Explain": a few sentences on the Kafka concept the focused pane shows.

A learner looking at a high watermark or a generation id should be one key away from
knowing what it is. Each pane maps to the concepts it displays; each concept is two or
three sentences, in Kafka's own terms, so the words carry over to real Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Static


@dataclass(frozen=True)
class Concept:
    """One Kafka concept: a title and two or three sentences."""

    title: str
    text: str


CONCEPTS: dict[str, Concept] = {c.title.lower().replace(" ", "_"): c for c in (
    Concept("Topic",
            "A topic is a named stream of records, split into partitions. Producers append records to it "
            "and consumers read them; reading removes nothing. Records leave only when retention "
            "(retention.ms, retention.bytes) or compaction removes them."),
    Concept("Replication factor",
            "The replication factor is how many brokers keep a replica of each partition: one leader and "
            "the rest followers. With a replication factor of 3 a partition survives two brokers failing, "
            "provided a replica that has the records becomes the leader."),
    Concept("Partition",
            "A partition is an ordered, append-only log: each record gets the next offset (0, 1, 2, ...). "
            "An offset below the high watermark always names the same record (retention or compaction may "
            "delete it, but never give its offset to another). Records above it can be lost when the leader "
            "fails, after a clean election too (acks=1 writes no follower had yet), and new records then "
            "get their offsets. "
            "Records with the same key always go to the same partition, so their order is kept; "
            "there is no order across partitions."),
    Concept("Log start offset",
            "The log start offset is the first offset the partition still keeps. Retention deletes whole "
            "segments, so it jumps forward a segment at a time; a consumer positioned before it is reset "
            "by auto.offset.reset."),
    Concept("High watermark",
            "The high watermark is the offset up to which every in-sync replica has copied the partition. "
            "Consumers only read below it, so they never see a record that a leader failure could still "
            "take away. The log end offset, the offset the next record gets, can be ahead of it."),
    Concept("ISR",
            "The ISR (in-sync replicas) are the replicas caught up with the leader. A follower whose broker "
            "stops, or that lags for longer than replica.lag.time.max.ms, leaves the ISR and rejoins once "
            "it has caught up. A new leader is elected from the ISR, and acks=all waits for every ISR member "
            "(and needs at least min.insync.replicas of them)."),
    Concept("Leader",
            "Each partition has one leader replica that takes all writes and serves reads; the followers "
            "copy from it. When the leader's broker stops, the controller elects a new leader from the ISR, "
            "preferring the first replica listed, and bumps the leader epoch."),
    Concept("Producer",
            "A producer appends records to a topic. A keyed record goes to partition murmur2(key) % "
            "partitions, as Kafka's Java client computes it, so one key always lands in one partition; "
            "records without a key stick to one partition until batch.size bytes went to it, then move to "
            "another that has a leader, favouring those with the shortest queues (Kafka 3.3+'s built-in "
            "partitioner, KIP-794). acks=0 does not wait, acks=1 waits "
            "for the leader, acks=all for every in-sync replica."),
    Concept("Consumer position",
            "A consumer reads each assigned partition from its position: the offset of the next record it "
            "will be given, which moves forward as it polls. Its committed offset is the position it saved "
            "for its group; after a restart or a rebalance, reading resumes from there."),
    Concept("Lag",
            "Lag is how far a consumer group is behind on a partition, as kafka-consumer-groups prints it: "
            "LAG = LOG-END-OFFSET - CURRENT-OFFSET, the log end (high watermark) minus the committed "
            "offset; '—' until something is committed. Every pane uses this one definition. A consumer "
            "view also shows 'left': the high watermark minus its own position, what it has still to read "
            "(it can be 0 while lag is not, until the consumer commits). Lag that keeps growing means the "
            "consumers cannot keep up with the producers; adding members (up to the number of partitions) "
            "spreads the work."),
    Concept("Consumer group",
            "Consumers that share a group id divide the topic's partitions between them, so each partition "
            "is read by exactly one member of the group. Members beyond the number of partitions stay idle, "
            "and two groups each read the whole topic independently."),
    Concept("Generation",
            "Every rebalance starts a new generation of the group, and the generation id counts them. "
            "Commits and heartbeats carry the member's generation: one from an older generation is refused "
            "with ILLEGAL_GENERATION, so a member that missed a rebalance cannot commit offsets for "
            "partitions that moved on (generations fence commits) and must rejoin. They do not stop it "
            "reading: until it notices, it may still fetch a partition that has a new owner."),
    Concept("Rebalance",
            "When a member joins, leaves or misses its session timeout, the group coordinator rebalances: "
            "members rejoin, the group leader computes a new assignment with the assignor (range by default), "
            "and each member receives its partitions. Adding a second member visibly takes partitions from "
            "the first."),
    Concept("Group protocol",
            "Kafka 4 has two group protocols. The classic one (JoinGroup, SyncGroup) stops every member to "
            "rebalance and a member, the leader, computes the assignment. The consumer protocol (KIP-848, "
            "group.protocol=consumer) only heartbeats: the broker's assignor sets a target for each group "
            "epoch, and a member revokes only the partitions that move and gets new ones once their old "
            "owner has let them go, reading the others throughout."),
    Concept("Broker",
            "A broker is one Kafka server; it stores replicas of partitions and leads some of them. Stopping "
            "a broker moves the leadership of its partitions to in-sync followers on other brokers, and its "
            "replicas leave the ISR until it is started again and catches up."),
    Concept("Controller",
            "Kafka 4 runs KRaft (ZooKeeper was deprecated in 3.5 and removed in 4.0): a quorum of "
            "controllers keeps the cluster's metadata in a Raft log. Here the three brokers are also its "
            "voters (process.roles=broker,controller). The active controller, elected by a majority of "
            "the voters, notices brokers failing and elects new partition leaders; if it stops, the "
            "others elect another with a higher epoch. With no majority alive there is no active "
            "controller: no leader elections and no topic changes, while partitions whose leader still "
            "runs keep serving."),
    Concept("Change feed",
            "The event log tells what the cluster reports: topics created, rebalances, leader elections, "
            "segments deleted by retention. It comes from the same change feed that keeps every pane live, "
            "including writes made by kplay commands in other terminals."),
    Concept("Partitions count",
            "More partitions let more members of one consumer group read in parallel. The count can grow "
            "later but never shrink, and growing it changes which partition a key maps to."),
    Concept("Retention",
            "cleanup.policy=delete removes whole old segments once they are older than retention.ms (or the "
            "partition is larger than retention.bytes); cleanup.policy=compact keeps only the latest record "
            "for each key and removes tombstones later."),
)}

#: Which concepts each pane shows, by the pane's class name (the first match up the focus chain wins).
PANE_CONCEPTS: dict[str, tuple[str, ...]] = {
    "TopicFormScreen": ("partitions_count", "replication_factor", "retention"),
    "TopicList": ("topic", "replication_factor"),
    "PartitionView": ("partition", "high_watermark", "isr"),
    "PartitionLog": ("partition", "log_start_offset", "high_watermark"),
    "ProducerBox": ("producer",),
    "ConsumerView": ("consumer_position", "lag"),
    "ConsumerDeck": ("consumer_position", "lag"),
    "GroupPanel": ("consumer_group", "generation", "group_protocol", "lag"),
    "BrokerList": ("broker", "controller", "leader"),
    "EventLog": ("change_feed",),
    "WelcomePanel": ("topic", "partition"),
}
#: What "explain" shows when no pane has the focus.
DEFAULT_CONCEPTS = ("topic", "partition")


def concepts_for(node: DOMNode | None) -> tuple[str, list[Concept]]:
    """The pane that ``node`` is in (its class name) and the concepts that pane shows."""
    for ancestor in (node.ancestors_with_self if node is not None else []):
        for cls in type(ancestor).__mro__:
            names = PANE_CONCEPTS.get(cls.__name__)
            if names is not None:
                return cls.__name__, [CONCEPTS[name] for name in names]
    return "", [CONCEPTS[name] for name in DEFAULT_CONCEPTS]


class ExplainScreen(ModalScreen[None]):
    """A popup with the concepts of one pane; any of escape, enter or the explain key closes it."""

    CSS_PATH = "explain.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q,i", "close", "Close", id="explain.close"),
    ]

    def __init__(self, pane_title: str, concepts: Iterable[Concept]) -> None:
        super().__init__()
        self.pane_title = pane_title
        self.concepts = list(concepts)

    def compose(self) -> ComposeResult:
        text = Text()
        if self.pane_title:
            text.append(f"What this pane shows: {self.pane_title}\n\n", style="dim")
        for index, concept in enumerate(self.concepts):
            if index:
                text.append("\n\n")
            text.append(concept.title + "\n", style="bold")
            text.append(concept.text)
        with VerticalScroll(id="explain"):
            yield Static(text, id="explain-text")

    def action_close(self) -> None:
        """Close the explanation."""
        self.dismiss(None)
