"""The live inbox's read model: what one subscriber is told of one change, in their locale.

The change says what happened; the count and the item are read here, from the store, when the
event goes out, with the same rules as every other read (so a count never drifts from the inbox).
A change for everyone (a broadcast, an amend) that does not reach this member is told as
``UNREAD_COUNT``: the sequence moves, nothing about the notification is said.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from core.domain.events import ChangeKind, InboxChange, InboxEventKind
from core.queries.inbox import InboxQueries
from core.queries.views import InboxItemView

WITH_ITEM = frozenset({ChangeKind.NEW_ITEM, ChangeKind.AMENDED})


@dataclass(frozen=True)
class InboxEventView:
    kind: InboxEventKind
    seq: int
    unread_count: int
    ids: tuple[str, ...] = ()
    item: InboxItemView | None = None
    categories: tuple[str, ...] | None = None


async def render_event(
    inbox: InboxQueries,
    user_id: str,
    change: InboxChange | None,
    *,
    seq: int,
    locales: tuple[str, ...],
    now: datetime,
) -> InboxEventView:
    """``change`` None: the subscription's first event."""
    if change is None:
        count = await inbox.unread_count(user_id, None, now)
        return InboxEventView(InboxEventKind.SYNC, seq, count)
    if change.kind is ChangeKind.GAP:  # the sequence jumped: the client refetches
        count = await inbox.unread_count(user_id, None, now)
        return InboxEventView(InboxEventKind.UNREAD_COUNT, seq, count)
    if change.kind in WITH_ITEM:
        count, items = await asyncio.gather(
            inbox.unread_count(user_id, None, now),
            inbox.items(user_id, change.ids[:1], locales, now),
        )
        if not items:  # not theirs, or not visible yet
            return InboxEventView(InboxEventKind.UNREAD_COUNT, seq, count)
        return InboxEventView(
            InboxEventKind(change.kind.value), seq, count, (items[0].id,), items[0]
        )
    count = await inbox.unread_count(user_id, None, now)
    return InboxEventView(
        InboxEventKind(change.kind.value), seq, count, change.ids, None, change.categories
    )
