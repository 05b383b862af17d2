"""Small builders shared by the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from core.domain.inbox import InboxEntry
from core.domain.notification import (
    Audience,
    AudienceKind,
    LocalizedContent,
    Notification,
    NotificationDraft,
    NotificationState,
    Priority,
)
from core.domain.pointclub import ClubRecord
from core.domain.segment import SegmentKind, SegmentRule
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.batch import batch_write, chunks
from core.ports import InboxStore, NotificationStore

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

    from core.bootstrap import Container


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
    notifications: NotificationStore,
    inbox: InboxStore,
    item: Notification,
    user_ids: list[str],
    delivered_at: datetime,
) -> None:
    """Store the notification and deliver it to each member."""
    await notifications.put(item)
    for user_id in user_ids:
        await inbox.deliver(user_id, entry_for(item, delivered_at))


def dynamo(container: Container) -> DynamoDBClient:
    """The container's open DynamoDB client, for tests that look at the table itself."""
    assert container.client is not None, "this container keeps its stores in memory"
    return container.client


async def fill_state_item(container: Container, user_id: str) -> None:
    """A state item as close to DynamoDB's 400 KB as the engine accepts: the next marker
    added to it makes the write fail (what 1,200-character categories once did)."""
    low, high = 300_000, 409_600
    while high - low > 8:
        size = (low + high) // 2
        try:
            await dynamo(container).put_item(
                TableName=container.settings.table_name,
                Item={
                    keys.PK: codec.s(keys.user_pk(user_id)),
                    keys.SK: codec.s(keys.STATE_SK),
                    "pad": codec.s("x" * size),
                },
            )
            low = size
        except ClientError:
            high = size
    await dynamo(container).put_item(
        TableName=container.settings.table_name,
        Item={
            keys.PK: codec.s(keys.user_pk(user_id)),
            keys.SK: codec.s(keys.STATE_SK),
            "pad": codec.s("x" * low),
        },
    )


async def add_members(
    container: Container, count: int, rank: str = "GOLD", prefix: str = "m"
) -> list[str]:
    """Members with a club item at ``rank`` (so rank and ALL_MEMBERS segments find them),
    written with BatchWriteItem, 16 calls in flight."""
    ids = [f"{prefix}{index:05d}" for index in range(count)]
    record = ClubRecord(rank_code=rank, rank_month="2026-11")
    limit = asyncio.Semaphore(16)

    async def put(group: Sequence[str]) -> None:
        requests = [{"PutRequest": {"Item": codec.club_to_item(uid, record)}} for uid in group]
        async with limit:
            await batch_write(dynamo(container), container.settings.table_name, requests)

    await asyncio.gather(*(put(group) for group in chunks(ids, 25)))
    return ids


def draft(audience: Audience, now: datetime) -> NotificationDraft:
    return NotificationDraft(
        category="campaign",
        priority=Priority.NORMAL,
        contents={"ja": LocalizedContent("お知らせ", "本文")},
        audience=audience,
        expires_at=now + timedelta(days=30),
    )


async def notification_for_all(container: Container, now: datetime, segment: str = "all") -> str:
    """A DRAFT notification to a new ALL_MEMBERS segment."""
    await container.segment_authoring().create("op", segment, SegmentRule(SegmentKind.ALL_MEMBERS))
    created = await container.authoring().create(
        "op", draft(Audience(AudienceKind.SEGMENT, segment=segment), now)
    )
    return created.notification_id
