"""Small builders shared by the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from core.domain.audience import member_shard
from core.domain.inbox import InboxEntry
from core.domain.notification import (
    Audience,
    AudienceKind,
    AudienceRule,
    LocalizedContent,
    Notification,
    NotificationDraft,
    NotificationState,
    Priority,
)
from core.domain.pointclub import ClubRecord
from core.domain.segment import SegmentKind, SegmentRule
from core.infra.dynamodb import club_codec, codec, keys
from core.infra.dynamodb.batch import batch_write, chunks
from core.ports import InboxStore, NotificationStore
from core.usecases.audience_walk import for_each_member

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
        requests = [{"PutRequest": {"Item": club_codec.club_to_item(uid, record)}} for uid in group]
        async with limit:
            await batch_write(dynamo(container), container.settings.table_name, requests)

    await asyncio.gather(*(put(group) for group in chunks(ids, 25)))
    # The member counts per rank, as the jobs that give ranks keep them.
    per_shard: dict[int, int] = {}
    for uid in ids:
        per_shard[member_shard(uid)] = per_shard.get(member_shard(uid), 0) + 1
    for shard, count in per_shard.items():
        await dynamo(container).update_item(
            TableName=container.settings.table_name,
            Key={keys.PK: codec.s(keys.rank_count_pk(shard)), keys.SK: codec.s(keys.META_SK)},
            UpdateExpression="ADD #n :k",
            ExpressionAttributeNames={"#n": f"n:{rank}"},
            ExpressionAttributeValues={":k": codec.n(count)},
        )
    return ids


def draft(audience: Audience, now: datetime) -> NotificationDraft:
    return NotificationDraft(
        category="campaign",
        priority=Priority.NORMAL,
        contents={"ja": LocalizedContent("お知らせ", "本文")},
        audience=audience,
        expires_at=now + timedelta(days=30),
    )


async def user_list(container: Container, name: str, members: Sequence[str]) -> str:
    """A USER_LIST segment of ``members`` (an audience that is fanned out)."""
    report = await container.import_user_list().run("op", name, [f"{m}\n" for m in members])
    assert report.members == len(set(members)) and not report.bad
    return name


async def notification_for_all(container: Container, now: datetime, segment: str = "all") -> str:
    """A DRAFT notification fanned out to every member: to a new USER_LIST segment of all the
    members the rank index holds (an ALL_MEMBERS segment would make it a broadcast, stored once,
    with no fan-out to test)."""
    members: list[str] = []

    async def collect(user_id: str) -> None:
        members.append(user_id)

    await for_each_member(container.segments, "test.collect", collect)
    await user_list(container, segment, sorted(members))
    created = await container.authoring().create(
        "op", draft(Audience(AudienceKind.SEGMENT, segment=segment), now)
    )
    return created.notification_id


EVERY_MEMBER = SegmentRule(SegmentKind.ALL_MEMBERS)


async def broadcast_for(
    container: Container,
    now: datetime,
    rule: SegmentRule = EVERY_MEMBER,
    segment: str = "everyone",
    audience_rule: AudienceRule = AudienceRule.MEMBERS_AT_VISIBLE_FROM,
) -> str:
    """A DRAFT notification to a new ALL_MEMBERS (or RANKS) segment: a broadcast."""
    if await container.segments.get(segment) is None:
        await container.segment_authoring().create("op", segment, rule)
    audience = Audience(AudienceKind.SEGMENT, segment=segment, rule=audience_rule)
    created = await container.authoring().create("op", draft(audience, now))
    return created.notification_id
