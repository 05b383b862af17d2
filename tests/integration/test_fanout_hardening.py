"""The fan-out against what operators and attackers do: a member whose data refuses the write,
overlapping runs of one notification, audiences that change after delivery, deliveries that
race a recall. Exactly once, counted once, and cleaned up exactly."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from core.bootstrap import Container
from core.domain.audience import DeliveryFigures, NotificationRecalled
from core.domain.notification import Audience, AudienceKind, NotificationState
from core.domain.pointclub import ClubRecord
from core.infra.dynamodb import codec, keys
from core.queries.inbox import InboxFilterSpec
from tests.builders import add_members, draft, dynamo, fill_state_item, user_list
from tests.fakes import FakeClock
from tests.integration.test_fanout import entries_per_member

pytestmark = pytest.mark.integration


async def user_list_notification(container: Container, clock: FakeClock, members: list[str]) -> str:
    await container.import_user_list().run("op", "list", [f"{m}\n" for m in members])
    created = await container.authoring().create(
        "op", draft(Audience(AudienceKind.SEGMENT, segment="list"), clock.now())
    )
    return created.notification_id


async def test_one_member_whose_data_refuses_the_write_fails_alone_and_is_retried(
    container: Container, clock: FakeClock
) -> None:
    members = [f"m{n:04d}" for n in range(150)]
    await fill_state_item(container, "m0042")
    nid = await user_list_notification(container, clock, members)
    prepare = container.prepare_notification()

    report = await prepare.run(nid)
    assert report.state is NotificationState.PUBLISHED
    assert (report.delivered, report.failed) == (149, 1)
    delivered = await entries_per_member(container, nid)
    assert set(delivered) == set(members) - {"m0042"} and set(delivered.values()) == {1}
    assert (await container.fanout.delivery_totals([nid]))[nid] == DeliveryFigures(150, 149, 1)

    again = await prepare.run(nid)  # the record is retried, and fails again; nothing doubles
    assert (again.delivered, again.failed) == (0, 1)
    assert (await container.fanout.delivery_totals([nid]))[nid] == DeliveryFigures(150, 149, 1)

    await dynamo(container).delete_item(
        TableName=container.settings.table_name,
        Key={keys.PK: codec.s(keys.user_pk("m0042")), keys.SK: codec.s(keys.STATE_SK)},
    )
    fixed = await prepare.run(nid)
    assert (fixed.delivered, fixed.failed) == (1, 0)
    assert (await container.fanout.delivery_totals([nid]))[nid] == DeliveryFigures(150, 150, 0)
    assert (await entries_per_member(container, nid))["m0042"] == 1
    assert await container.inbox_queries().unread_count("m0042", None, clock.now()) == 1


async def test_prepare_due_goes_on_past_a_failing_notification(
    container: Container, clock: FakeClock
) -> None:
    await user_list(container, "gold", await add_members(container, 20, "GOLD"))
    authoring = container.authoring()
    audience = Audience(AudienceKind.SEGMENT, segment="gold")
    expiring = replace(draft(audience, clock.now()), expires_at=clock.now() + timedelta(minutes=8))
    soon_gone = await authoring.create("op", expiring)
    fine = await authoring.create("op", draft(audience, clock.now()))
    for created in (soon_gone, fine):
        await authoring.schedule("op", created.notification_id, clock.now() + timedelta(minutes=5))
    clock.advance(timedelta(minutes=10))  # the first has expired by the time it is due

    report = await container.prepare_due().run(lambda _: None)
    assert [r.notification_id for r in report.prepared] == [fine.notification_id]
    assert [nid for nid, _ in report.failed] == [soon_gone.notification_id]
    assert "expired" in report.failed[0][1]
    assert len(await entries_per_member(container, fine.notification_id)) == 20


async def test_overlapping_runs_both_finish_and_count_each_member_once(
    container: Container, clock: FakeClock
) -> None:
    members = [f"u{n:04d}" for n in range(400)]
    nid = await user_list_notification(container, clock, members)
    runs = [container.prepare_notification(concurrency=4) for _ in range(3)]

    reports = await asyncio.gather(*(run.run(nid) for run in runs))
    assert {r.state for r in reports} <= {NotificationState.PUBLISHED, NotificationState.PREPARING}
    assert sum(r.delivered for r in reports) == 400
    assert (await container.fanout.delivery_totals([nid]))[nid] == DeliveryFigures(400, 400, 0)
    counts = await entries_per_member(container, nid)
    assert set(counts) == set(members) and set(counts.values()) == {1}
    stored = (await container.notifications.get_many([nid]))[nid]
    assert stored.state is NotificationState.PUBLISHED

    prepare = container.prepare_notification()
    for _ in range(3):  # --user again and again: delivered and counted once
        await prepare.run(nid, only_user="outsider")
    assert (await container.fanout.delivery_totals([nid]))[nid] == DeliveryFigures(401, 401, 0)


async def test_recall_cleanup_removes_exactly_what_was_delivered(
    container: Container, clock: FakeClock
) -> None:
    gold = await add_members(container, 100, "GOLD", "g")
    await user_list(container, "gold", gold)
    created = await container.authoring().create(
        "op", draft(Audience(AudienceKind.SEGMENT, segment="gold"), clock.now())
    )
    nid = created.notification_id
    prepare = container.prepare_notification()
    await prepare.run(nid)
    await prepare.run(nid, only_user="walk-in")  # reached by hand, in no segment
    # Ranks change after delivery: today's audience is not who got it.
    for member in gold[:30]:
        await container.ledger.put_club(
            member, ClubRecord(rank_code="SILVER", rank_month="2026-12")
        )
    await add_members(container, 10, "GOLD", "newcomer")

    prepared = (await container.notifications.get_many([nid]))[nid]
    await container.authoring().recall("op", nid, "wrong offer")
    with pytest.raises(NotificationRecalled):  # a batch in flight when the recall lands
        await container.fanout.deliver_batch(
            nid, "L.00", ["late-1", "late-2"], prepared.entry(clock.now())
        )
    assert await entries_per_member(container, nid) == Counter({m: 1 for m in [*gold, "walk-in"]})

    cleanup = container.cleanup_recalled()
    assert await cleanup.run(nid) == 101
    assert await entries_per_member(container, nid) == Counter()
    queries = container.inbox_queries()
    for member in [*gold, "walk-in"]:
        assert await queries.unread_count(member, None, clock.now()) == 0
        page = await queries.page(
            member, first=5, after=None, spec=InboxFilterSpec(), locales=(), now=clock.now()
        )
        assert page.items == () and page.unread_count == 0
    assert await cleanup.run(nid) == 0  # nothing left; a rerun changes nothing


async def test_a_refused_delivery_by_hand_is_counted_once_and_retried_by_hand(
    container: Container, clock: FakeClock
) -> None:
    members = [f"m{n:04d}" for n in range(10)]
    await fill_state_item(container, "m0003")
    nid = await user_list_notification(container, clock, members)
    prepare = container.prepare_notification()
    await prepare.run(nid)
    assert (await container.fanout.delivery_totals([nid]))[nid] == DeliveryFigures(10, 9, 1)

    again = await prepare.run(nid, only_user="m0003")  # still refused: still one failure
    assert (again.delivered, again.failed) == (0, 1)
    assert (await container.fanout.delivery_totals([nid]))[nid] == DeliveryFigures(10, 9, 1)

    await dynamo(container).delete_item(
        TableName=container.settings.table_name,
        Key={keys.PK: codec.s(keys.user_pk("m0003")), keys.SK: codec.s(keys.STATE_SK)},
    )
    fixed = await prepare.run(nid, only_user="m0003")
    assert fixed.delivered == 1
    assert (await container.fanout.delivery_totals([nid]))[nid] == DeliveryFigures(10, 10, 0)
    assert (await entries_per_member(container, nid))["m0003"] == 1
    rerun = await prepare.run(nid)  # nothing left to retry, nothing counted twice
    assert (rerun.delivered, rerun.failed) == (0, 0)
    assert (await container.fanout.delivery_totals([nid]))[nid] == DeliveryFigures(10, 10, 0)
