"""Small builders shared by the tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.domain.inbox import InboxEntry
from core.domain.notification import (
    Audience,
    AudienceKind,
    LocalizedContent,
    Notification,
    NotificationState,
    Priority,
)
from core.ports import InboxWriter, NotificationWriter


def notification(
    nid: str,
    *,
    visible_from: datetime,
    category: str = "news",
    lifetime: timedelta | None = timedelta(days=30),
    ja: str | None = None,
    en: str | None = None,
    state: NotificationState = NotificationState.PUBLISHED,
    url: str | None = None,
) -> Notification:
    contents = {"ja": LocalizedContent(ja or f"{nid} タイトル", f"{nid} 本文")}
    if en is not None:
        contents["en"] = LocalizedContent(en, f"{nid} body")
    return Notification(
        notification_id=nid,
        state=state,
        category=category,
        priority=Priority.NORMAL,
        contents=contents,
        audience=Audience(kind=AudienceKind.SEGMENT, segment="test"),
        created_at=visible_from,
        created_by="test-admin",
        url=url,
        visible_from=visible_from,
        expires_at=None if lifetime is None else visible_from + lifetime,
    )


def entry_for(item: Notification, delivered_at: datetime) -> InboxEntry:
    return item.entry(delivered_at)


async def publish(
    notifications: NotificationWriter,
    inbox: InboxWriter,
    item: Notification,
    user_ids: list[str],
    delivered_at: datetime,
) -> None:
    """Store the notification and deliver it to each member."""
    await notifications.put(item)
    for user_id in user_ids:
        await inbox.deliver(user_id, entry_for(item, delivered_at))
