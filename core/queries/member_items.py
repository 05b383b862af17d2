"""A member's items among given notification ids: what ``notification(id)``, the mutation
payloads and the read-state commands look up."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from core.domain.inbox import InboxEntry
from core.domain.notification import Notification
from core.ports import EntryRef, LiveListReader, MemberReader, NotificationReader


async def member_items(
    members: MemberReader,
    notifications: NotificationReader,
    live: LiveListReader,
    user_id: str,
    notification_ids: Sequence[str],
) -> tuple[Mapping[str, Notification], Mapping[str, InboxEntry]]:
    """The notifications among the ids and the member's items for them: their entries (an
    entry's key needs its notification's visibleFrom), and for a live broadcast that reaches them
    and that they have no entry for, the broadcast as an item. Recalled and unprepared
    notifications have no items; visibility at an instant is the caller's to check."""
    found, state, club, listed = await asyncio.gather(
        notifications.get_many(list(notification_ids)),
        members.inbox_state(user_id),
        members.club(user_id),
        live.live_for(user_id),
    )
    seen = listed.seen_by(club)
    items: dict[str, InboxEntry] = {}
    refs = []
    for notification in found.values():
        nid = notification.notification_id
        if notification.visible_from is None or notification.recalled:
            continue
        broadcast = seen.broadcasts.get(nid)
        if broadcast is not None and nid not in state.own_broadcasts:
            items[nid] = broadcast.entry(broadcast.visible_from)
        elif notification.broadcast_reach is None or broadcast is not None:
            refs.append(EntryRef(nid, notification.visible_from))
    if refs:
        items.update(await members.inbox_entries(user_id, refs))
    return found, items
