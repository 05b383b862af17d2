"""Read-state commands of a member: mark read, mark unread, mark all read, archive.

Each reads the member's state (and what it needs to find entries), decides which markers move,
and applies set operations, so a retried command changes nothing more. Ids that are unknown, not
the member's, not visible now or recalled are ignored the same way, revealing nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from core.domain.inbox import (
    ALL_CATEGORIES,
    InboxEntry,
    UnreadMarker,
    check_categories,
    check_notification_id,
)
from core.errors import InvalidInput
from core.observability.spans import traced
from core.ports import (
    Clock,
    EntryRef,
    InboxStore,
    MemberReader,
    NotificationReader,
    ReadChange,
    RecallReader,
)
from core.queries.inbox import own_entries

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
    """The four read-state commands; each returns the ids it applied to (the member's own)."""

    def __init__(
        self,
        *,
        members: MemberReader,
        notifications: NotificationReader,
        recalls: RecallReader,
        writer: InboxStore,
        clock: Clock,
        categories: Collection[str],
    ) -> None:
        self._categories = frozenset(categories)
        self._members = members
        self._notifications = notifications
        self._recalls = recalls
        self._writer = writer
        self._clock = clock

    @traced
    async def mark_read(self, user_id: str, ids: Sequence[str]) -> list[str]:
        wanted = check_ids(ids)
        now = self._clock.now()
        state, recalled = await asyncio.gather(
            self._members.inbox_state(user_id), self._recalls.recalled_for(user_id)
        )
        markers = [
            state.unread[nid]
            for nid in wanted
            if nid in state.unread and state.unread[nid].is_visible(now, recalled)
        ]
        for chunk in _chunks(markers):
            change = ReadChange(read=tuple(chunk), stamp_read=tuple(_ref(m) for m in chunk))
            await self._writer.apply(user_id, change, now)
        return wanted

    @traced
    async def mark_unread(self, user_id: str, notification_id: str) -> list[str]:
        check_notification_id(notification_id, "id")
        now = self._clock.now()
        entries, state, recalled = await asyncio.gather(
            self._visible_entries(user_id, [notification_id], now),
            self._members.inbox_state(user_id),
            self._recalls.recalled_for(user_id),
        )
        entry = entries[0] if entries else None
        if entry is None or entry.archived_at is not None or state.is_unread(notification_id):
            return [notification_id]
        if not entry.is_visible(now, recalled, include_archived=False):
            return [notification_id]
        change = ReadChange(
            unread=(entry.marker(),),
            clear_read=(EntryRef(entry.notification_id, entry.visible_from),),
        )
        await self._writer.apply(user_id, change, now)
        return [notification_id]

    @traced
    async def mark_all_read(self, user_id: str, categories: Sequence[str] | None) -> None:
        """One write whatever the inbox size: the markers leave the set, the time is recorded."""
        wanted = check_categories(categories, self._categories)
        if wanted is not None and not wanted:
            return  # no category: nothing to mark
        now = self._clock.now()
        state, recalled = await asyncio.gather(
            self._members.inbox_state(user_id), self._recalls.recalled_for(user_id)
        )
        covered = [
            marker
            for marker in state.unread.values()
            if marker.visible_from <= now and (wanted is None or marker.category in wanted)
        ]
        # Markers of expired or recalled notifications are invisible: they leave uncounted.
        read = tuple(m for m in covered if m.is_visible(now, recalled))
        drop = tuple(m for m in covered if not m.is_visible(now, recalled))
        scope = (ALL_CATEGORIES,) if wanted is None else tuple(sorted(wanted))
        await self._writer.apply(user_id, ReadChange(read=read, drop=drop, read_all=scope), now)

    @traced
    async def archive(self, user_id: str, ids: Sequence[str]) -> list[str]:
        wanted = check_ids(ids)
        now = self._clock.now()
        entries, recalled = await asyncio.gather(
            self._visible_entries(user_id, wanted, now), self._recalls.recalled_for(user_id)
        )
        targets = [
            entry
            for entry in entries
            if entry.archived_at is None and entry.is_visible(now, recalled, include_archived=False)
        ]
        for chunk in _chunks(targets):
            # Each entry's own marker goes, whatever the state holds now: reading it first would
            # miss a mark-unread committed in between, leaving a counted marker on an archived
            # entry (removing an absent marker changes nothing).
            change = ReadChange(
                drop=tuple(e.marker() for e in chunk),
                archive=tuple(EntryRef(e.notification_id, e.visible_from) for e in chunk),
            )
            await self._writer.apply(user_id, change, now)
        return wanted

    async def _visible_entries(
        self, user_id: str, ids: Sequence[str], now: datetime
    ) -> list[InboxEntry]:
        _, entries = await own_entries(self._members, self._notifications, user_id, ids)
        return [entries[nid] for nid in ids if nid in entries]


def _chunks(items: Iterable[T]) -> list[list[T]]:
    listed = list(items)
    return [listed[start : start + CHUNK] for start in range(0, len(listed), CHUNK)]
