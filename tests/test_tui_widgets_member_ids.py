"""Member ids on screen: the client id and 8 hex digits of the coordinator's UUID, not 37 columns of it."""

from __future__ import annotations

from broker_core.events import GroupRebalanced, GroupStateChanged
from widgets.event_log import narrate
from widgets.member_ids import shorten_member_ids

MEMBER = "billing #1-8aa10b20-415b-4285-b56c-6b762a10cde2"


def test_a_member_id_keeps_its_client_id_and_the_start_of_its_uuid() -> None:
    assert shorten_member_ids(MEMBER) == "billing #1-8aa10b20"
    # Ids that are not client id + UUID (static members, other clients) stay whole.
    assert shorten_member_ids("rdkafka-1234") == "rdkafka-1234"
    assert shorten_member_ids("consumer-1-8aa10b20") == "consumer-1-8aa10b20"


def test_the_event_log_names_members_shortly() -> None:
    rebalanced = narrate(GroupRebalanced(seq=1, at=0, group="billing", generation=1, protocol="range",
                                         assignment={MEMBER: [["orders", 0]]}))
    assert rebalanced is not None and "billing #1-8aa10b20 gets orders-0" in rebalanced and "415b" not in rebalanced
    changed = narrate(GroupStateChanged(seq=1, at=0, group="billing", state="PreparingRebalance",
                                        reason=f"Adding new member {MEMBER}"))
    assert changed == "Group billing is now PreparingRebalance (Adding new member billing #1-8aa10b20)"
    # A topic or group name that merely looks like one is never cut.
    created = narrate(GroupStateChanged(seq=1, at=0, group=MEMBER, state="Empty"))
    assert created is not None and MEMBER in created
