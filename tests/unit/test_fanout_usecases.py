"""The fan-out usecases on the in-memory stores: ``PrepareNotification`` (whole audience, a
shard, one member, a dry run, reruns, failures), ``PrepareDue`` and ``CleanupRecalled``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.bootstrap import Container
from core.domain.audience import DeliveryFigures, member_shard
from core.domain.notification import Audience, AudienceKind, NotificationState
from core.domain.pointclub import ClubRecord
from core.errors import Conflict, InvalidInput, NotFound, Unavailable
from core.usecases.audience_walk import ShardSpec
from tests.builders import draft, notification_for_all
from tests.fakes import FakeClock, World, fake_container

MEMBERS = [f"m{n:03d}" for n in range(130)]


@pytest.fixture
def world() -> World:
    world = World()
    for member in MEMBERS:
        world.clubs[member] = ClubRecord(rank_code="GOLD" if member < "m100" else "SILVER")
    return world


@pytest.fixture
def c(world: World, clock: FakeClock) -> Container:
    return fake_container(clock=clock, world=world)


def inboxes_with(world: World, nid: str) -> list[str]:
    return sorted(uid for uid, inbox in world.entries.items() if nid in inbox)


async def test_every_member_of_the_audience_gets_it_once_whatever_the_reruns(
    c: Container, world: World, clock: FakeClock
) -> None:
    nid = await notification_for_all(c, clock.now())
    walked: list[int] = []
    report = await c.prepare_notification().run(nid, progress=lambda n, _: walked.append(n))
    assert (report.delivered, report.failed, report.state) == (130, 0, NotificationState.PUBLISHED)
    assert report.partitions_done == report.partitions_total and walked[-1] == 130
    assert inboxes_with(world, nid) == MEMBERS
    assert all(set(world.states[m].unread) == {nid} for m in MEMBERS)
    again = await c.prepare_notification().run(nid)
    assert again.delivered == 0
    totals = await c.fanout.delivery_totals([nid])
    assert totals[nid] == DeliveryFigures(130, 130, 0)


async def test_workers_split_the_audience_by_shard_and_together_reach_everyone(
    c: Container, world: World, clock: FakeClock
) -> None:
    nid = await notification_for_all(c, clock.now())
    first = await c.prepare_notification().run(nid, shard=ShardSpec.parse("0/2"))
    assert world.notifications[nid].state is NotificationState.PREPARING  # half is left
    reached = inboxes_with(world, nid)
    assert reached and all(member_shard(m) % 2 == 0 for m in reached)
    second = await c.prepare_notification().run(nid, shard=ShardSpec.parse("1/2"))
    assert first.delivered + second.delivered == 130
    assert second.state is NotificationState.PUBLISHED
    with pytest.raises(InvalidInput):
        ShardSpec.parse("2/2")


async def test_a_dry_run_counts_and_writes_nothing(
    c: Container, world: World, clock: FakeClock
) -> None:
    nid = await notification_for_all(c, clock.now())
    report = await c.prepare_notification().run(nid, dry_run=True)
    assert (report.dry_run, report.audience, report.delivered) == (True, 130, 0)
    assert inboxes_with(world, nid) == []
    assert world.notifications[nid].state is NotificationState.DRAFT


async def test_one_member_by_hand(c: Container, world: World, clock: FakeClock) -> None:
    nid = await notification_for_all(c, clock.now())
    with pytest.raises(Conflict):  # a draft: prepare it first
        await c.prepare_notification().run(nid, only_user="m005")
    await c.prepare_notification().run(nid)
    before = await c.fanout.checkpoints(nid)
    del world.entries["m005"][nid]  # lost, say, to a bad restore
    report = await c.prepare_notification().run(nid, only_user="m005")
    assert report.delivered == 1 and nid in world.entries["m005"]
    after = await c.fanout.checkpoints(nid)
    assert {k: after[k] for k in before} == before  # no audience checkpoint moved
    assert {k: cp.last for k, cp in after.items() if k not in before} == {"manual.m005": None}
    with pytest.raises(InvalidInput):
        await c.prepare_notification().run(nid, only_user="no such id!")


async def test_a_member_whose_data_refuses_fails_alone_and_a_later_run_retries(
    c: Container, world: World, clock: FakeClock
) -> None:
    nid = await notification_for_all(c, clock.now())
    world.refusing.add("m042")
    report = await c.prepare_notification().run(nid)
    assert (report.delivered, report.failed) == (129, 1)
    assert "m042" not in inboxes_with(world, nid)
    world.refusing.discard("m042")
    fixed = await c.prepare_notification().run(nid)
    assert (fixed.delivered, fixed.failed) == (1, 0)
    assert (await c.fanout.delivery_totals([nid]))[nid] == DeliveryFigures(130, 130, 0)


async def test_refusals_name_the_notification_and_its_state(
    c: Container, world: World, clock: FakeClock
) -> None:
    with pytest.raises(NotFound):
        await c.prepare_notification().run("01NOSUCHNOTIFICATION000000")
    nid = await notification_for_all(c, clock.now())
    await c.authoring().recall("op", nid, "wrong")
    with pytest.raises(Conflict):
        await c.prepare_notification().run(nid)
    expired = await c.authoring().create(
        "op", draft(Audience(AudienceKind.SEGMENT, segment="all"), clock.now()), None
    )
    clock.advance(timedelta(days=31))
    with pytest.raises(Conflict):
        await c.prepare_notification().run(expired.notification_id)
    world.down = Unavailable("no answer")
    with pytest.raises(Unavailable):
        await c.prepare_notification().run(expired.notification_id)


async def test_due_notifications_are_prepared_and_one_that_fails_is_named(
    c: Container, world: World, clock: FakeClock
) -> None:
    due = await notification_for_all(c, clock.now())
    await c.authoring().schedule("op", due, clock.now() + timedelta(hours=1))
    later = await c.authoring().create(
        "op", draft(Audience(AudienceKind.SEGMENT, segment="all"), clock.now()), None
    )
    await c.authoring().schedule("op", later.notification_id, clock.now() + timedelta(days=2))
    lapsed = await c.authoring().create(
        "op", draft(Audience(AudienceKind.SEGMENT, segment="all"), clock.now()), None
    )
    await c.authoring().schedule("op", lapsed.notification_id, clock.now() + timedelta(hours=1))
    world.notifications[lapsed.notification_id] = world.notifications[
        lapsed.notification_id
    ].changed(world.notifications[lapsed.notification_id].audit[-1], expires_at=clock.now())
    clock.advance(timedelta(hours=2))
    assert {n.notification_id for n in await c.prepare_due().due()} == {
        due,
        lapsed.notification_id,
    }
    report = await c.prepare_due().run(lambda _: None)
    assert [r.notification_id for r in report.prepared] == [due]
    assert [nid for nid, _ in report.failed] == [lapsed.notification_id]
    assert world.notifications[due].state is NotificationState.PUBLISHED
    assert world.notifications[later.notification_id].state is NotificationState.SCHEDULED


async def test_a_recall_clean_up_removes_every_delivered_entry_and_forgets_the_recall(
    c: Container, world: World, clock: FakeClock
) -> None:
    nid = await notification_for_all(c, clock.now())
    await c.prepare_notification().run(nid)
    await c.authoring().recall("op", nid, "wrong")
    assert nid in await c.cleanup_recalled().pending()
    seen: list[int] = []
    assert await c.cleanup_recalled().run(nid, lambda n, _: seen.append(n)) == 130
    assert inboxes_with(world, nid) == [] and nid not in world.recalled
    assert all(nid not in world.state(m).unread for m in MEMBERS)
    assert await c.cleanup_recalled().run(nid) == 0
