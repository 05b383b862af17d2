"""The inbox read model: pages, one item and unread counts, localized for the viewer."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from core.domain.inbox import (
    POSITION_PATTERN,
    InboxEntry,
    InboxState,
    UnreadMarker,
    check_categories,
    check_notification_id,
)
from core.domain.notification import Notification
from core.observability.spans import traced
from core.ports import EntryRef, InboxScanRequest, MemberReader, NotificationReader, RecallReader
from core.queries.cursors import check_first, decode_cursor, encode_cursor
from core.queries.views import InboxItemView, InboxPageView

# Extra entries read per page so that a few hidden ones (archived, expired, scheduled, recalled)
# rarely cost a second call.
SCAN_SLACK = 8
# Query calls one page may make to get past hidden entries. When they run out, the page ends
# with what it found, hasNextPage and a cursor after the last entry read, so a request's work is
# bounded (its cost counts `first`, not the hidden entries) and the next page goes on from there.
MAX_SCANS = 4


@dataclass(frozen=True)
class InboxFilterSpec:
    categories: frozenset[str] | None = None
    unread_only: bool = False
    include_archived: bool = False


class InboxQueries:
    """Reads of one member's inbox; every count and list applies the same visibility rule."""

    def __init__(
        self,
        *,
        members: MemberReader,
        notifications: NotificationReader,
        recalls: RecallReader,
        default_locale: str,
        categories: Collection[str],
    ) -> None:
        self._categories = frozenset(categories)
        self._members = members
        self._notifications = notifications
        self._recalls = recalls
        self._default_locale = default_locale

    @traced
    async def unread_count(
        self, user_id: str, categories: Sequence[str] | None, now: datetime
    ) -> int:
        wanted = check_categories(categories, self._categories)
        if wanted is not None and not wanted:
            return 0
        state, recalled = await asyncio.gather(
            self._members.inbox_state(user_id), self._recalls.recalled_for(user_id)
        )
        return state.unread_count(now, recalled, wanted)

    @traced
    async def page(
        self,
        user_id: str,
        *,
        first: int,
        after: str | None,
        spec: InboxFilterSpec,
        locales: tuple[str, ...],
        now: datetime,
    ) -> InboxPageView:
        check_first(first)
        position = None if after is None else decode_cursor(after, pattern=POSITION_PATTERN)
        spec = replace(spec, categories=check_categories(spec.categories, self._categories))
        if spec.categories is not None and not spec.categories:
            return InboxPageView(items=(), has_next_page=False, end_cursor=None, unread_count=0)
        if spec.unread_only:
            return await self._unread_page(user_id, first, position, spec, locales, now)
        entries, state, recalled, has_next, read_up_to = await self._visible_entries(
            user_id, first, position, spec, now
        )
        items = await self._localize(entries, state, locales)
        end = encode_cursor(read_up_to) if read_up_to is not None else None
        return InboxPageView(
            items=tuple(items),
            has_next_page=has_next,
            end_cursor=end or (items[-1].cursor if items else None),
            unread_count=state.unread_count(now, recalled, spec.categories),
        )

    @traced
    async def item(
        self, user_id: str, notification_id: str, locales: tuple[str, ...], now: datetime
    ) -> InboxItemView | None:
        """The member's own entry for a notification, if it is theirs and visible now."""
        check_notification_id(notification_id, "id")
        notification = await self._notifications.get(notification_id)
        if notification is None or notification.recalled or notification.visible_from is None:
            return None
        entry, state, recalled = await asyncio.gather(
            self._members.inbox_entry(user_id, notification_id, notification.visible_from),
            self._members.inbox_state(user_id),
            self._recalls.recalled_for(user_id),
        )
        if entry is None or not entry.is_visible(now, recalled, include_archived=True):
            return None
        return self._view(entry, notification, state, locales)

    @traced
    async def items(
        self, user_id: str, notification_ids: Sequence[str], locales: tuple[str, ...], now: datetime
    ) -> list[InboxItemView]:
        """The member's own items among ``notification_ids`` (archived too), in the given order."""
        (found, entries), state, recalled = await asyncio.gather(
            own_entries(self._members, self._notifications, user_id, notification_ids),
            self._members.inbox_state(user_id),
            self._recalls.recalled_for(user_id),
        )
        return [
            self._view(entries[nid], found[nid], state, locales)
            for nid in dict.fromkeys(notification_ids)
            if nid in entries and entries[nid].is_visible(now, recalled, include_archived=True)
        ]

    async def _visible_entries(
        self,
        user_id: str,
        first: int,
        position: str | None,
        spec: InboxFilterSpec,
        now: datetime,
    ) -> tuple[list[InboxEntry], InboxState, frozenset[str], bool, str | None]:
        """Up to ``first`` visible entries, the state, the recalled ids, whether more may follow,
        and, when the page stopped at ``MAX_SCANS`` short of ``first``, the position read up to."""
        want = first + 1
        request = InboxScanRequest(
            after=position,
            limit=want + SCAN_SLACK,
            now=now,
            include_archived=spec.include_archived,
            categories=spec.categories,
            with_status=position is None,
        )
        if position is None:
            scan, recalled = await asyncio.gather(
                self._members.scan_inbox(user_id, request), self._recalls.recalled_for(user_id)
            )
            state = scan.state or InboxState()
        else:
            scan, recalled, state = await asyncio.gather(
                self._members.scan_inbox(user_id, request),
                self._recalls.recalled_for(user_id),
                self._members.inbox_state(user_id),
            )
        collected = [entry for entry in scan.entries if entry.notification_id not in recalled]
        resume = scan.resume_after
        calls = 1
        while len(collected) < want and resume is not None and calls < MAX_SCANS:
            calls += 1
            missing = want - len(collected)
            more = await self._members.scan_inbox(
                user_id,
                InboxScanRequest(
                    after=resume,
                    limit=missing + SCAN_SLACK,
                    now=now,
                    include_archived=spec.include_archived,
                    categories=spec.categories,
                ),
            )
            collected.extend(e for e in more.entries if e.notification_id not in recalled)
            resume = more.resume_after
        if len(collected) < want and resume is not None:
            return collected, state, recalled, True, resume  # every entry up to resume was read
        return collected[:first], state, recalled, len(collected) > first, None

    async def _unread_page(
        self,
        user_id: str,
        first: int,
        position: str | None,
        spec: InboxFilterSpec,
        locales: tuple[str, ...],
        now: datetime,
    ) -> InboxPageView:
        # Unread items are exactly the visible markers: the page needs no entry reads at all.
        state, recalled = await asyncio.gather(
            self._members.inbox_state(user_id), self._recalls.recalled_for(user_id)
        )
        markers = state.visible_unread(now, recalled, spec.categories)
        if position is not None:
            markers = [marker for marker in markers if marker.position < position]
        page = [_entry_of(marker) for marker in markers[:first]]
        items = await self._localize(page, state, locales)
        return InboxPageView(
            items=tuple(items),
            has_next_page=len(markers) > first,
            end_cursor=items[-1].cursor if items else None,
            unread_count=len(state.visible_unread(now, recalled, spec.categories)),
        )

    async def _localize(
        self, entries: Sequence[InboxEntry], state: InboxState, locales: tuple[str, ...]
    ) -> list[InboxItemView]:
        if not entries:
            return []
        found = await self._notifications.get_many([e.notification_id for e in entries])
        views = []
        for entry in entries:
            notification = found.get(entry.notification_id)
            if notification is None or notification.recalled:
                continue
            views.append(self._view(entry, notification, state, locales))
        return views

    def _view(
        self,
        entry: InboxEntry,
        notification: Notification,
        state: InboxState,
        locales: tuple[str, ...],
    ) -> InboxItemView:
        content = notification.content_for(locales, self._default_locale)
        unread = state.is_unread(entry.notification_id) and entry.archived_at is None
        return InboxItemView(
            id=entry.notification_id,
            title=content.title,
            body=content.body,
            url=notification.url,
            image_url=notification.image_url,
            category=entry.category,
            priority=notification.priority,
            visible_from=entry.visible_from,
            expires_at=entry.expires_at,
            is_read=not unread,
            read_at=None
            if unread
            else state.read_at(entry.category, entry.visible_from, entry.read_at),
            archived_at=entry.archived_at,
            cursor=encode_cursor(entry.position),
        )


def _entry_of(marker: UnreadMarker) -> InboxEntry:
    return InboxEntry(
        notification_id=marker.notification_id,
        visible_from=marker.visible_from,
        category=marker.category,
        expires_at=marker.expires_at,
        delivered_at=marker.visible_from,
    )


async def own_entries(
    members: MemberReader,
    notifications: NotificationReader,
    user_id: str,
    notification_ids: Sequence[str],
) -> tuple[Mapping[str, Notification], Mapping[str, InboxEntry]]:
    """The notifications among the ids and the member's entries for them (an entry's key needs
    its notification's visibleFrom); recalled and unprepared notifications have no entries."""
    found = await notifications.get_many(list(notification_ids))
    refs = [
        EntryRef(n.notification_id, n.visible_from)
        for n in found.values()
        if n.visible_from is not None and not n.recalled
    ]
    entries = await members.inbox_entries(user_id, refs) if refs else {}
    return found, entries
