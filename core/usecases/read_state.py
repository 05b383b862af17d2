"""Read-state commands of a member: mark read, mark unread, mark all read, archive.

Each reads the member's state (and what it needs to find entries), decides which markers move,
and applies set operations, so a retried command changes nothing more. Ids that are unknown, not
the member's, not visible now or recalled are ignored the same way, revealing nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from core.domain.broadcast import LiveList, Visibility
from core.domain.events import ChangeKind, InboxChange, read_change
from core.domain.inbox import (
    ALL_CATEGORIES,
    BroadcastRead,
    InboxEntry,
    InboxState,
    UnreadMarker,
    check_categories,
    check_notification_id,
)
from core.errors import InvalidInput
from core.observability.spans import traced
from core.ports import (
    Clock,
    EntryRef,
    InboxEvents,
    InboxStore,
    LiveListReader,
    MemberReader,
    NotificationReader,
    ReadChange,
)
from core.queries.member_items import member_items

T = TypeVar("T")
MAX_IDS = 100
CHUNK = 99  # entry updates per transaction, beside the state item


def check_ids(ids: Sequence[str], field: str = "ids") -> list[str]:
    if len(ids) > MAX_IDS:
        raise InvalidInput(f"at most {MAX_IDS} ids at a time", field=field)
    for notification_id in ids:
        check_notification_id(notification_id, field)
    return list(dict.fromkeys(ids))


def _ref(marker: UnreadMarker) -> EntryRef:
    return EntryRef(marker.notification_id, marker.visible_from)


class ReadStateCommands:
    """The four read-state commands; each returns the ids it applied to (the member's own).

    A broadcast the member acts on (reads, unreads, archives) gets an entry of their own in the
    same write: from then on it behaves as a delivered notification. A mark-all covers the other
    broadcasts by its time alone, and queues the ones it read to be counted.
    """

    def __init__(
        self,
        *,
        members: MemberReader,
        notifications: NotificationReader,
        live: LiveListReader,
        writer: InboxStore,
        clock: Clock,
        categories: Collection[str],
        events: InboxEvents,
    ) -> None:
        self._events = events
        self._categories = frozenset(categories)
        self._members = members
        self._notifications = notifications
        self._live = live
        self._writer = writer
        self._clock = clock

    @traced
    async def mark_read(self, user_id: str, ids: Sequence[str]) -> list[str]:
        wanted = check_ids(ids)
        now = self._clock.now()
        state, live, seen = await self._status(user_id)
        reads: list[tuple[UnreadMarker, InboxEntry | None]] = []
        for nid in wanted:
            marker = state.unread.get(nid)
            broadcast = seen.broadcasts.get(nid)
            if marker is not None:
                if marker.is_visible(now, seen):
                    reads.append((marker, None))
            elif (
                broadcast is not None
                and nid not in state.own_broadcasts
                and broadcast.is_visible(now)
                and nid not in state.read_broadcasts
            ):
                reads.append((broadcast.marker(), broadcast.entry(now)))
        tidy = _tidy(state, live, now)
        for chunk in _chunks(reads):
            copies = tuple(copy for _, copy in chunk if copy is not None)
            change = ReadChange(
                read=tuple(marker for marker, _ in chunk),
                stamp_read=tuple(_ref(marker) for marker, _ in chunk),
                copies=copies,
                **tidy.without_copies(copies),
            )
            await self._writer.apply(user_id, change, now)
            tidy = Tidy()
        await self._announce(user_id, ChangeKind.READ, [m.notification_id for m, _ in reads])
        return wanted

    @traced
    async def mark_unread(self, user_id: str, notification_id: str) -> list[str]:
        check_notification_id(notification_id, "id")
        now = self._clock.now()
        (_, entries), (state, live, seen) = await asyncio.gather(
            member_items(
                self._members, self._notifications, self._live, user_id, [notification_id]
            ),
            self._status(user_id),
        )
        entry = entries.get(notification_id)
        if entry is None or entry.archived_at is not None or state.is_unread(entry):
            return [notification_id]
        if not entry.is_visible(now, seen, include_archived=False):
            return [notification_id]
        change = ReadChange(
            unread=(entry.marker(),),
            clear_read=(EntryRef(entry.notification_id, entry.visible_from),),
            copies=_copies(state, [entry], now),
            **_tidy(state, live, now, entry.notification_id).without_copies(
                _copies(state, [entry], now)
            ),
        )
        await self._writer.apply(user_id, change, now)
        await self._announce(user_id, ChangeKind.UNREAD, [notification_id])
        return [notification_id]

    @traced
    async def mark_all_read(self, user_id: str, categories: Sequence[str] | None) -> None:
        """One write whatever the inbox size: the markers leave the set, the time is recorded
        (and covers the broadcasts), the reads are queued to be counted."""
        wanted = check_categories(categories, self._categories)
        if wanted is not None and not wanted:
            return  # no category: nothing to mark
        now = self._clock.now()
        state, live, seen = await self._status(user_id)
        covered = [
            marker
            for marker in state.unread.values()
            if marker.visible_from <= now and (wanted is None or marker.category in wanted)
        ]
        # Markers of expired or recalled notifications can never be seen again: they leave
        # uncounted. A broadcast copy that does not reach the member now (a live audience)
        # keeps its marker for when it does again.
        read = [m for m in covered if m.is_visible(now, seen)]
        drop = tuple(m for m in covered if _gone(m, now, live.recalled))
        # Broadcasts without a copy are read by name: exactly the ones the member sees now, so
        # one published, scheduled or reaching them only later stays unread.
        fresh = [
            marker
            for marker in state.visible_unread(now, seen, wanted)
            if marker.broadcast and marker.notification_id not in state.unread
        ]
        cover = tuple(
            (m.notification_id, BroadcastRead(at=now, expires_at=m.expires_at)) for m in fresh
        )
        tidy = _tidy(state, live, now)
        scope = (ALL_CATEGORIES,) if wanted is None else tuple(sorted(wanted))
        change = ReadChange(
            read=(*read, *fresh),
            drop=drop,
            read_all=scope,
            forget=tidy.forget,
            cover=cover,
            uncover=() if cover else tidy.uncover,
        )
        await self._writer.apply(user_id, change, now)
        categories = None if wanted is None else tuple(sorted(wanted))
        await self._events.to_members(
            [user_id], InboxChange(ChangeKind.ALL_READ, categories=categories)
        )

    @traced
    async def archive(self, user_id: str, ids: Sequence[str]) -> list[str]:
        wanted = check_ids(ids)
        now = self._clock.now()
        (_, entries), (state, live, seen) = await asyncio.gather(
            member_items(self._members, self._notifications, self._live, user_id, wanted),
            self._status(user_id),
        )
        targets = [
            entries[nid]
            for nid in wanted
            if nid in entries
            and entries[nid].archived_at is None
            and entries[nid].is_visible(now, seen, include_archived=False)
        ]
        tidy = _tidy(state, live, now)
        for chunk in _chunks(targets):
            copied = _tidy(state, live, now, *(e.notification_id for e in chunk)).uncover
            # Each entry's own marker goes, whatever the state holds now: reading it first would
            # miss a mark-unread committed in between, leaving a counted marker on an archived
            # entry (removing an absent marker changes nothing).
            change = ReadChange(
                drop=tuple(e.marker() for e in chunk),
                archive=tuple(EntryRef(e.notification_id, e.visible_from) for e in chunk),
                copies=_copies(state, chunk, now),
                forget=() if _copies(state, chunk, now) else tidy.forget,
                uncover=tuple(dict.fromkeys((*tidy.uncover, *copied))),
            )
            await self._writer.apply(user_id, change, now)
            tidy = Tidy()
        await self._announce(user_id, ChangeKind.ARCHIVED, [e.notification_id for e in targets])
        return wanted

    async def _announce(self, user_id: str, kind: ChangeKind, ids: list[str]) -> None:
        """The member's other devices (and this one's other tabs) learn of the change."""
        change = read_change(kind, ids)
        if change is not None:
            await self._events.to_members([user_id], change)

    async def _status(self, user_id: str) -> tuple[InboxState, LiveList, Visibility]:
        state, club, live = await asyncio.gather(
            self._members.inbox_state(user_id),
            self._members.club(user_id),
            self._live.live_for(user_id),
        )
        return state, live, live.seen_by(club)


@dataclass(frozen=True)
class Tidy:
    """Records in the member's state that can go: copies' records of broadcasts gone for good
    (recalled, or expired) and records of mark-all reads of them, or of broadcasts the member
    now has a copy of. Only what can never come back: a broadcast missing from a live list read
    a moment ago may have been published since."""

    forget: tuple[tuple[str, datetime | None], ...] = ()
    uncover: tuple[tuple[str, BroadcastRead], ...] = ()

    def without_copies(self, copies: tuple[InboxEntry, ...]) -> dict[str, Any]:
        """The fields of a change: one update cannot both add to a set and delete from it."""
        return {"forget": () if copies else self.forget, "uncover": self.uncover}


def _tidy(state: InboxState, live: LiveList, now: datetime, *copied: str) -> Tidy:
    def gone(nid: str, expires: datetime | None) -> bool:
        return nid in live.recalled or (expires is not None and expires <= now)

    return Tidy(
        forget=tuple(sorted((n, e) for n, e in state.own_broadcasts.items() if gone(n, e))),
        uncover=tuple(
            sorted(
                (
                    (nid, read)
                    for nid, read in state.read_broadcasts.items()
                    if gone(nid, read.expires_at) or nid in copied
                ),
                key=lambda pair: pair[0],
            )
        ),
    )


def _gone(marker: UnreadMarker, now: datetime, recalled: frozenset[str]) -> bool:
    """Never visible again: expired or recalled (only these take a broadcast off the list)."""
    expired = marker.expires_at is not None and marker.expires_at <= now
    return expired or marker.notification_id in recalled


def _copies(
    state: InboxState, entries: Iterable[InboxEntry], at: datetime
) -> tuple[InboxEntry, ...]:
    """The member's own copies of the broadcasts among ``entries`` they have none of yet."""
    return tuple(
        replace(entry, delivered_at=at)
        for entry in entries
        if entry.broadcast and entry.notification_id not in state.own_broadcasts
    )


def _chunks(items: Iterable[T]) -> list[list[T]]:
    listed = list(items)
    return [listed[start : start + CHUNK] for start in range(0, len(listed), CHUNK)]
