"""What the core needs from the outside world, as Protocols; ``core/infra`` implements them.

The read ports are implemented twice: by the DynamoDB adapters (one call per method) and, per
request, by DataLoader-backed wrappers in ``resolvers/`` that batch and share those calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.domain.inbox import InboxEntry, InboxState, UnreadMarker
from core.domain.notification import Notification
from core.domain.pointclub import ClubRecord, LedgerEntry


class Clock(Protocol):
    def now(self) -> datetime: ...


class IdGenerator(Protocol):
    def new_id(self) -> str: ...


@dataclass(frozen=True)
class InboxScanRequest:
    """One read of a member's inbox, newest first.

    ``after`` is the sort position to continue below (None: from the newest). ``with_status``
    asks for the member's state and club items too; they sit just above the newest entry, so
    the same read returns them (only when ``after`` is None).
    """

    after: str | None
    limit: int
    now: datetime
    include_archived: bool = False
    categories: frozenset[str] | None = None
    with_status: bool = False


@dataclass(frozen=True)
class InboxScan:
    entries: Sequence[InboxEntry]
    resume_after: str | None  # where the next read continues; None when nothing is left
    state: InboxState | None = None
    club: ClubRecord | None = None


@dataclass(frozen=True)
class LedgerPage:
    entries: Sequence[LedgerEntry]
    resume_after: str | None


@dataclass(frozen=True)
class EntryRef:
    """The key of one inbox entry."""

    notification_id: str
    visible_from: datetime


class MemberReader(Protocol):
    """Reads of one member's partition."""

    async def inbox_state(self, user_id: str) -> InboxState: ...

    async def club(self, user_id: str) -> ClubRecord | None: ...

    async def scan_inbox(self, user_id: str, request: InboxScanRequest) -> InboxScan: ...

    async def inbox_entry(
        self, user_id: str, notification_id: str, visible_from: datetime
    ) -> InboxEntry | None: ...

    async def inbox_entries(
        self, user_id: str, refs: Sequence[EntryRef]
    ) -> Mapping[str, InboxEntry]: ...

    async def ledger_page(self, user_id: str, after: str | None, limit: int) -> LedgerPage: ...


class NotificationReader(Protocol):
    async def get_many(self, notification_ids: Sequence[str]) -> Mapping[str, Notification]: ...


class RecallReader(Protocol):
    async def recalled_for(self, user_id: str) -> frozenset[str]:
        """Ids of recalled notifications whose entries may still be in this member's inbox."""
        ...


@dataclass(frozen=True)
class IdempotencyClaim:
    """An operator's idempotency key for a create, and a fingerprint of what was asked."""

    actor: str
    key: str
    fingerprint: str
    expires_at: datetime


class NotificationWriter(Protocol):
    async def put(self, notification: Notification, *, only_if_absent: bool = False) -> bool:
        """Write the notification; with ``only_if_absent`` keep an existing one. True if written."""
        ...


class InboxWriter(Protocol):
    async def deliver(self, user_id: str, entry: InboxEntry) -> bool:
        """Add the entry and its unread marker unless the member already has it; True if added."""
        ...

    async def apply(self, user_id: str, change: ReadChange, at: datetime) -> None:
        """Apply one change of read state atomically (at most 99 entry updates)."""
        ...


@dataclass(frozen=True)
class ReadChange:
    """One atomic change of a member's read state: the state item and up to 99 entries.

    Set operations make it idempotent: applying it twice leaves what applying it once left.
    """

    read: tuple[UnreadMarker, ...] = ()  # leave the unread set; queued to count as reads
    drop: tuple[UnreadMarker, ...] = ()  # leave the unread set uncounted (archived, expired, …)
    unread: tuple[UnreadMarker, ...] = ()  # enter the unread set again
    stamp_read: tuple[EntryRef, ...] = ()  # set readAt unless set
    clear_read: tuple[EntryRef, ...] = ()  # remove readAt (not on archived entries)
    archive: tuple[EntryRef, ...] = ()  # set archivedAt (and readAt unless set)
    read_all: tuple[str, ...] = ()  # categories ("*": all) whose mark-all time is now

    @property
    def entry_updates(self) -> int:
        return len(self.stamp_read) + len(self.clear_read) + len(self.archive)


class ReadStats(Protocol):
    async def count_pending_reads(self, user_id: str) -> int:
        """Add this member's queued reads to the per-notification counters, each once."""
        ...

    async def read_counts(self, notification_ids: Sequence[str]) -> Mapping[str, int]: ...


class ClubWriter(Protocol):
    async def put_club(
        self, user_id: str, record: ClubRecord, *, only_if_absent: bool = False
    ) -> bool: ...

    async def put_ledger(self, user_id: str, entries: Sequence[LedgerEntry]) -> None: ...


class SeedRegistry(Protocol):
    async def claim_anchor(self, proposed: datetime) -> datetime:
        """The demo data's reference time: ``proposed`` on the first run, the stored one after."""
        ...
