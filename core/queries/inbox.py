"""The inbox read model: pages, one item and unread counts, localized for the viewer."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from core.domain.broadcast import Visibility
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
from core.ports import InboxScanRequest, LiveListReader, MemberReader, NotificationReader
from core.queries.cursors import check_first, decode_cursor, encode_cursor
from core.queries.member_items import member_items
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
        live: LiveListReader,
        default_locale: str,
        categories: Collection[str],
    ) -> None:
        self._categories = frozenset(categories)
        self._members = members
        self._notifications = notifications
        self._live = live
        self._default_locale = default_locale

    @traced
    async def unread_count(
        self, user_id: str, categories: Sequence[str] | None, now: datetime
    ) -> int:
        wanted = check_categories(categories, self._categories)
        if wanted is not None and not wanted:
            return 0
        state, seen = await self._status(user_id)
        return state.unread_count(now, seen, wanted)

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
        entries, state, seen, has_next, read_up_to = await self._visible_entries(
            user_id, first, position, spec, now
        )
        items = await self._localize(entries, state, seen, locales)
        end = encode_cursor(read_up_to) if read_up_to is not None else None
        return InboxPageView(
            items=tuple(items),
            has_next_page=has_next,
            end_cursor=end or (items[-1].cursor if items else None),
            unread_count=state.unread_count(now, seen, spec.categories),
        )

    @traced
    async def item(
        self, user_id: str, notification_id: str, locales: tuple[str, ...], now: datetime
    ) -> InboxItemView | None:
        """The member's item for a notification, if it is theirs and visible now."""
        check_notification_id(notification_id, "id")
        views = await self.items(user_id, [notification_id], locales, now)
        return views[0] if views else None

    @traced
    async def items(
        self, user_id: str, notification_ids: Sequence[str], locales: tuple[str, ...], now: datetime
    ) -> list[InboxItemView]:
        """The member's own items among ``notification_ids`` (archived too), in the given order."""
        (found, entries), (state, seen) = await asyncio.gather(
            member_items(self._members, self._notifications, self._live, user_id, notification_ids),
            self._status(user_id),
        )
        return [
            self._view(entries[nid], found[nid], state, seen, locales)
            for nid in dict.fromkeys(notification_ids)
            if nid in entries
            and nid in found
            and entries[nid].is_visible(now, seen, include_archived=True)
        ]

    async def _status(self, user_id: str) -> tuple[InboxState, Visibility]:
        """The member's state and what they may see: the live list as it reaches them."""
        state, club, live = await asyncio.gather(
            self._members.inbox_state(user_id),
            self._members.club(user_id),
            self._live.live_for(user_id),
        )
        return state, live.seen_by(club)

    async def _visible_entries(
        self,
        user_id: str,
        first: int,
        position: str | None,
        spec: InboxFilterSpec,
        now: datetime,
    ) -> tuple[list[InboxEntry], InboxState, Visibility, bool, str | None]:
        """Up to ``first`` visible items, newest first: the member's entries merged with the
        broadcasts that reach them and that they have no entry for. Then the state, what the
        member may see, whether more may follow, and, when the page stopped at ``MAX_SCANS``
        short of ``first``, the position read up to."""
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
            scan, live = await asyncio.gather(
                self._members.scan_inbox(user_id, request), self._live.live_for(user_id)
            )
            state, seen = scan.state or InboxState(), live.seen_by(scan.club)
        else:
            scan, (state, seen) = await asyncio.gather(
                self._members.scan_inbox(user_id, request), self._status(user_id)
            )
        broadcasts = [
            b.entry(b.visible_from)
            for b in seen.newest_first()
            if b.notification_id not in state.own_broadcasts
            and b.is_visible(now)
            and (spec.categories is None or b.category in spec.categories)
            and (position is None or b.position < position)
        ]
        collected = [e for e in scan.entries if e.is_visible(now, seen, include_archived=True)]
        resume = scan.resume_after
        calls = 1

        def merged() -> list[InboxEntry]:
            # Broadcasts below the last entry read wait for the entries above them.
            above = [b for b in broadcasts if resume is None or b.position > resume]
            return sorted([*collected, *above], key=lambda e: e.position, reverse=True)

        page = merged()
        while len(page) < want and resume is not None and calls < MAX_SCANS:
            calls += 1
            missing = want - len(page)
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
            collected.extend(
                e for e in more.entries if e.is_visible(now, seen, include_archived=True)
            )
            resume = more.resume_after
            page = merged()
        if len(page) < want and resume is not None:
            return page, state, seen, True, resume  # every entry up to resume was read
        return page[:first], state, seen, len(page) > first, None

    async def _unread_page(
        self,
        user_id: str,
        first: int,
        position: str | None,
        spec: InboxFilterSpec,
        locales: tuple[str, ...],
        now: datetime,
    ) -> InboxPageView:
        # Unread items are exactly the visible markers and the uncovered broadcasts: the page
        # needs no entry reads at all.
        state, seen = await self._status(user_id)
        unread = state.visible_unread(now, seen, spec.categories)
        markers = unread
        if position is not None:
            markers = [marker for marker in markers if marker.position < position]
        page = [_entry_of(marker) for marker in markers[:first]]
        items = await self._localize(page, state, seen, locales)
        return InboxPageView(
            items=tuple(items),
            has_next_page=len(markers) > first,
            end_cursor=items[-1].cursor if items else None,
            unread_count=len(unread),
        )

    async def _localize(
        self,
        entries: Sequence[InboxEntry],
        state: InboxState,
        seen: Visibility,
        locales: tuple[str, ...],
    ) -> list[InboxItemView]:
        if not entries:
            return []
        found = await self._notifications.get_many(
            [e.notification_id for e in entries], as_of=seen.content_version
        )
        views = []
        for entry in entries:
            notification = found.get(entry.notification_id)
            if notification is None or notification.recalled:
                continue
            views.append(self._view(entry, notification, state, seen, locales))
        return views

    def _view(
        self,
        entry: InboxEntry,
        notification: Notification,
        state: InboxState,
        seen: Visibility,
        locales: tuple[str, ...],
    ) -> InboxItemView:
        return InboxItemView(entry, notification, state, locales, self._default_locale)


def _entry_of(marker: UnreadMarker) -> InboxEntry:
    return InboxEntry(
        notification_id=marker.notification_id,
        visible_from=marker.visible_from,
        category=marker.category,
        expires_at=marker.expires_at,
        delivered_at=marker.visible_from,
        broadcast=marker.broadcast,
    )
