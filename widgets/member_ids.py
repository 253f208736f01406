"""Group member ids made short enough for a pane: the client id and the start of the UUID.

Kafka's coordinator names a member ``<client.id>-<UUID>`` (``billing #1-8aa10b20-415b-4285-
b56c-6b762a10cde2``): unique, but the UUID takes 37 of a narrow pane's columns. The first
8 hex digits after the client id still tell the members of one group apart.
"""

from __future__ import annotations

import re

#: ``-`` and a UUID at the end of a member id, or inside a sentence that quotes one.
_UUID_SUFFIX = re.compile(r"-([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def shorten_member_ids(text: str) -> str:
    """``text`` with each member id's UUID cut to 8 hex digits: ``billing #1-8aa10b20`` for
    ``billing #1-8aa10b20-415b-4285-b56c-6b762a10cde2``, in a bare id or in a sentence.

    An id not ending in a UUID (a static member's, another client's) stays as it is.
    """
    return _UUID_SUFFIX.sub(r"-\1", text)
