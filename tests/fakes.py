"""In-memory fakes of the core's ports, for unit tests of queries and usecases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from core.domain.inbox import InboxEntry, InboxState
from core.domain.notification import Notification
from core.domain.pointclub import ClubRecord, LedgerEntry
from core.ports import EntryRef, InboxScan, InboxScanRequest, LedgerPage, ReadChange


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 11, 29, 3, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta

    def catch_up(self) -> None:
        """Now, for real: after a CLI job (a separate process on the real clock) the tests read
        what it wrote as of when it wrote it. The fixed default lies in the past by then."""
        self.current = datetime.now(UTC)


class SequentialIds:
    def __init__(self, prefix: str = "id") -> None:
        self._prefix = prefix
        self._next = 0

    def new_id(self) -> str:
        self._next += 1
        return f"{self._prefix}{self._next:08d}"


@dataclass
class FakeMembers:
    """Implements ``MemberReader`` and ``InboxWriter`` over dictionaries."""

    entries: dict[str, dict[str, InboxEntry]] = field(default_factory=dict)
    states: dict[str, InboxState] = field(default_factory=dict)
    clubs: dict[str, ClubRecord] = field(default_factory=dict)
    ledgers: dict[str, list[LedgerEntry]] = field(default_factory=dict)
    pending: dict[str, set[str]] = field(default_factory=dict)

    async def inbox_state(self, user_id: str) -> InboxState:
        return self.states.get(user_id, InboxState())

    async def club(self, user_id: str) -> ClubRecord | None:
        return self.clubs.get(user_id)

    async def scan_inbox(self, user_id: str, request: InboxScanRequest) -> InboxScan:
        ordered = sorted(
            self.entries.get(user_id, {}).values(), key=lambda e: e.position, reverse=True
        )
        if request.after is not None:
            ordered = [e for e in ordered if e.position < request.after]
        evaluated = ordered[: request.limit]
        kept = [
            e
            for e in evaluated
            if e.visible_from <= request.now
            and (e.expires_at is None or e.expires_at > request.now)
            and (request.include_archived or e.archived_at is None)
            and (request.categories is None or e.category in request.categories)
        ]
        more = len(ordered) > request.limit
        with_status = request.with_status and request.after is None
        return InboxScan(
            entries=kept,
            resume_after=evaluated[-1].position if more and evaluated else None,
            state=self.states.get(user_id, InboxState()) if with_status else None,
            club=self.clubs.get(user_id) if with_status else None,
        )

    async def inbox_entry(
        self, user_id: str, notification_id: str, visible_from: datetime
    ) -> InboxEntry | None:
        entry = self.entries.get(user_id, {}).get(notification_id)
        return entry if entry is not None and entry.visible_from == visible_from else None

    async def ledger_page(self, user_id: str, after: str | None, limit: int) -> LedgerPage:
        ordered = sorted(self.ledgers.get(user_id, []), key=lambda e: e.position, reverse=True)
        if after is not None:
            ordered = [e for e in ordered if e.position < after]
        page = ordered[:limit]
        return LedgerPage(
            entries=page, resume_after=page[-1].position if len(ordered) > limit else None
        )

    async def deliver(self, user_id: str, entry: InboxEntry) -> bool:
        inbox = self.entries.setdefault(user_id, {})
        if entry.notification_id in inbox:
            return False
        inbox[entry.notification_id] = entry
        state = self.states.get(user_id, InboxState())
        unread = dict(state.unread)
        unread[entry.notification_id] = entry.marker()
        self.states[user_id] = replace(state, unread=unread)
        return True

    async def inbox_entries(
        self, user_id: str, refs: Sequence[EntryRef]
    ) -> Mapping[str, InboxEntry]:
        inbox = self.entries.get(user_id, {})
        return {
            ref.notification_id: inbox[ref.notification_id]
            for ref in refs
            if ref.notification_id in inbox
            and inbox[ref.notification_id].visible_from == ref.visible_from
        }

    async def apply(self, user_id: str, change: ReadChange, at: datetime) -> None:
        """The same semantics as the DynamoDB writer: set operations, guarded entry updates."""
        inbox = self.entries.setdefault(user_id, {})
        failed = {
            ref.notification_id
            for ref in change.clear_read
            if ref.notification_id not in inbox
            or inbox[ref.notification_id].archived_at is not None
        }
        for ref in (*change.stamp_read, *change.archive):
            if ref.notification_id in inbox:
                stored = inbox[ref.notification_id]
                inbox[ref.notification_id] = replace(stored, read_at=stored.read_at or at)
        for ref in change.archive:
            if ref.notification_id in inbox:
                stored = inbox[ref.notification_id]
                inbox[ref.notification_id] = replace(stored, archived_at=stored.archived_at or at)
        for ref in change.clear_read:
            if ref.notification_id not in failed:
                inbox[ref.notification_id] = replace(inbox[ref.notification_id], read_at=None)
        state = self.states.get(user_id, InboxState())
        unread = dict(state.unread)
        for marker in (*change.read, *change.drop):
            unread.pop(marker.notification_id, None)
        for marker in change.unread:
            if marker.notification_id not in failed:
                unread[marker.notification_id] = marker
        read_all = dict(state.read_all_at)
        read_all.update(dict.fromkeys(change.read_all, at))
        self.states[user_id] = InboxState(unread=unread, read_all_at=read_all)
        self.pending.setdefault(user_id, set()).update(m.notification_id for m in change.read)


@dataclass
class FakeNotifications:
    items: dict[str, Notification] = field(default_factory=dict)

    async def get_many(self, notification_ids: Sequence[str]) -> Mapping[str, Notification]:
        return {nid: self.items[nid] for nid in notification_ids if nid in self.items}

    async def put(self, notification: Notification, *, only_if_absent: bool = False) -> bool:
        if only_if_absent and notification.notification_id in self.items:
            return False
        self.items[notification.notification_id] = notification
        return True


@dataclass
class FakeRecalls:
    ids: set[str] = field(default_factory=set)

    async def recalled_for(self, user_id: str) -> frozenset[str]:
        return frozenset(self.ids)
