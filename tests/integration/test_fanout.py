"""The fan-out against a real engine: audiences, exactly-once delivery, exact figures, reruns,
scheduling, recall clean-up and user-list imports."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from core.bootstrap import Container
from core.domain.audience import DeliveryFigures
from core.domain.notification import (
    Audience,
    AudienceKind,
    NotificationState,
)
from core.domain.segment import SegmentKind, SegmentRule
from core.errors import Conflict
from core.usecases.audience_walk import ShardSpec
from tests.builders import add_members, draft, dynamo, user_list
from tests.fakes import FakeClock

pytestmark = pytest.mark.integration


async def entries_per_member(container: Container, notification_id: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    params: dict[str, Any] = {
        "TableName": container.settings.table_name,
        "FilterExpression": "nid = :n AND begins_with(SK, :i)",
        "ProjectionExpression": "PK",  # the engine answers a table's worth of entries faster
        "ExpressionAttributeValues": {":n": {"S": notification_id}, ":i": {"S": "I#"}},
    }
    while True:
        page = await dynamo(container).scan(**params)
        counts.update(item["PK"]["S"].removeprefix("USER#") for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return counts
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


async def list_notification(container: Container, clock: FakeClock, members: list[str]) -> str:
    """A notification to a user list (a fan-out audience; ranks and everyone are broadcasts)."""
    await user_list(container, "target", members)
    created = await container.authoring().create(
        "op", draft(Audience(AudienceKind.SEGMENT, segment="target"), clock.now())
    )
    return created.notification_id


async def test_a_user_list_gets_it_exactly_once_and_a_rerun_changes_nothing(
    container: Container, clock: FakeClock
) -> None:
    gold = await add_members(container, 230, "GOLD", "g")
    await add_members(container, 40, "SILVER", "s")
    nid = await list_notification(container, clock, gold)
    prepare = container.prepare_notification()

    dry = await prepare.run(nid, dry_run=True)
    assert dry.audience == 230
    assert (await container.notifications.get_many([nid]))[nid].state is NotificationState.DRAFT

    report = await prepare.run(nid)
    assert (report.audience, report.delivered, report.already) == (230, 230, 0)
    assert report.state is NotificationState.PUBLISHED
    assert await entries_per_member(container, nid) == Counter(dict.fromkeys(gold, 1))
    stored = (await container.notifications.get_many([nid]))[nid]
    assert (await container.fanout.delivery_totals([nid]))[nid] == DeliveryFigures(230, 230)
    assert [a.action for a in stored.audit] == ["create", "prepare", "publish"]

    # A member reads it; rerunning delivers nothing and keeps that read.
    await container.read_state_commands().mark_read("g00007", [nid])
    again = await prepare.run(nid)
    assert (again.delivered, again.state) == (0, NotificationState.PUBLISHED)
    assert nid not in (await container.members.inbox_state("g00007")).unread
    stored = (await container.notifications.get_many([nid]))[nid]
    assert (await container.fanout.delivery_totals([nid]))[nid] == DeliveryFigures(230, 230)


async def test_shards_split_the_audience_and_the_last_one_publishes(
    container: Container, clock: FakeClock
) -> None:
    members = await add_members(container, 150, "REGULAR")
    nid = await list_notification(container, clock, members)
    prepare = container.prepare_notification()
    states = []
    for index in range(3):
        report = await prepare.run(nid, shard=ShardSpec(index, 3))
        states.append(report.state)
    assert states == [
        NotificationState.PREPARING,
        NotificationState.PREPARING,
        NotificationState.PUBLISHED,
    ]
    assert await entries_per_member(container, nid) == Counter(dict.fromkeys(members, 1))


async def test_prepare_due_takes_only_what_is_due_and_recall_cleanup_empties_inboxes(
    container: Container, clock: FakeClock
) -> None:
    bronze = await add_members(container, 60, "BRONZE")
    authoring = container.authoring()
    await user_list(container, "bronze", bronze)
    audience = Audience(AudienceKind.SEGMENT, segment="bronze")
    due = await authoring.create("op", draft(audience, clock.now()))
    later = await authoring.create("op", draft(audience, clock.now()))
    await authoring.schedule("op", due.notification_id, clock.now() + timedelta(minutes=5))
    await authoring.schedule("op", later.notification_id, clock.now() + timedelta(days=2))
    clock.advance(timedelta(minutes=10))

    reports = await container.prepare_due().run(lambda _: None)
    assert [r.notification_id for r in reports.prepared] == [due.notification_id]
    assert reports.failed == []
    assert len(await entries_per_member(container, due.notification_id)) == 60
    assert await entries_per_member(container, later.notification_id) == Counter()

    await authoring.recall("op", due.notification_id, "sent by mistake")
    assert due.notification_id in (await container.live.live_for("m00001")).recalled
    cleanup = container.cleanup_recalled()
    assert await cleanup.pending() == [due.notification_id]
    assert await cleanup.run(due.notification_id) == 60
    assert await cleanup.pending() == [], "a cleaned notification is not walked again"
    assert await entries_per_member(container, due.notification_id) == Counter()
    assert not (await container.members.inbox_state("m00001")).unread
    assert due.notification_id not in (await container.live.live_for("m00001")).recalled
    with pytest.raises(Conflict):
        await container.prepare_notification().run(due.notification_id)


async def test_a_user_audience_and_a_redelivery_to_one_member(
    container: Container, clock: FakeClock
) -> None:
    created = await container.authoring().create(
        "op", draft(Audience(AudienceKind.USER, user_id="alice"), clock.now())
    )
    prepare = container.prepare_notification()
    with pytest.raises(Conflict):
        await prepare.run(created.notification_id, only_user="bob")  # not prepared yet
    report = await prepare.run(created.notification_id)
    assert (report.delivered, report.state) == (1, NotificationState.PUBLISHED)
    extra = await prepare.run(created.notification_id, only_user="bob")
    assert extra.delivered == 1
    again = await prepare.run(created.notification_id, only_user="bob")
    assert (again.delivered, again.already) == (0, 1)
    assert await entries_per_member(container, created.notification_id) == Counter(alice=1, bob=1)


async def test_import_list_reports_bad_lines_and_a_rerun_after_the_fix_completes(
    container: Container,
) -> None:
    importer = container.import_user_list()
    lines = [
        "user_id\n",
        "u-1\n",
        "u 2\n",
        "\n",
        "u-3,extra,columns\n",
        "#comment\n",
        "bad!id\n",
        "u-1\n",
    ]
    report = await importer.run("cli", "vip", lines)
    assert [(bad.number, bad.text) for bad in report.bad] == [(3, "u 2"), (7, "bad!id")]
    assert (report.imported, report.members) == (3, 2)
    fixed = ["u-1\n", "u-2\n", "u-3\n", "u-4\n"]
    again = await importer.run("cli", "vip", fixed)
    assert (again.bad, again.members) == ([], 4)
    segment = await container.segments.get("vip")
    assert segment is not None and segment.rule.kind is SegmentKind.USER_LIST
    assert segment.members == 4
    rule = SegmentRule(SegmentKind.USER_LIST)
    walked = [
        m
        for p in container.segments.partitions(rule, "vip")
        async for page in container.segments.member_pages(p, None)
        for m in page
    ]
    assert sorted(walked) == ["u-1", "u-2", "u-3", "u-4"]
