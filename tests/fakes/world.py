"""The in-memory table every fake store reads and writes, so stores see each other's writes as
the DynamoDB adapters do through their one table (a delivery shows in the inbox, a recall in the
fan-out's guard, a rank in the audience)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.domain.broadcast import Broadcast
from core.domain.inbox import InboxEntry, InboxState, UnreadMarker
from core.domain.notification import Notification
from core.domain.pointclub import ClubRecord, EntryClaim, LedgerEntry
from core.domain.segment import Segment


@dataclass
class Prep:
    """A checkpoint item's figures (``P#<partition>``)."""

    last: str | None = None
    done: bool = False
    targeted: int = 0
    delivered: int = 0
    failed: int = 0


@dataclass
class World:
    # A member's partition.
    entries: dict[str, dict[str, InboxEntry]] = field(default_factory=dict)  # uid → nid → entry
    states: dict[str, InboxState] = field(default_factory=dict)
    pending: dict[str, dict[str, UnreadMarker]] = field(default_factory=dict)  # reads to count
    clubs: dict[str, ClubRecord] = field(default_factory=dict)
    club_versions: dict[str, int] = field(default_factory=dict)
    ledgers: dict[str, dict[str, LedgerEntry]] = field(default_factory=dict)  # uid → position
    # Notifications and what hangs off them.
    notifications: dict[str, Notification] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    recalled: set[str] = field(default_factory=set)
    broadcasts: dict[str, Broadcast] = field(default_factory=dict)  # the live list's
    read_counts: dict[str, int] = field(default_factory=dict)
    counted: set[tuple[str, str]] = field(default_factory=set)  # (uid, nid) counted once
    preps: dict[str, dict[str, Prep]] = field(default_factory=dict)  # nid → partition → figures
    delivery_log: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    failures: dict[str, dict[str, str]] = field(default_factory=dict)  # nid → uid → reason
    # Ledger entry ids claimed, table-wide.
    claims: dict[str, EntryClaim] = field(default_factory=dict)
    # Segments and user lists.
    segments: dict[str, Segment] = field(default_factory=dict)
    lists: dict[str, set[str]] = field(default_factory=dict)
    anchor: datetime | None = None
    # Members whose data refuses any write (as an item at DynamoDB's size limit does).
    refusing: set[str] = field(default_factory=set)
    # Set to make every call raise (a store that does not answer).
    down: Exception | None = None

    def check(self) -> None:
        if self.down is not None:
            raise self.down

    def inbox(self, user_id: str) -> dict[str, InboxEntry]:
        return self.entries.setdefault(user_id, {})

    def state(self, user_id: str) -> InboxState:
        return self.states.get(user_id, InboxState())
