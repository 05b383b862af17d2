"""``FanoutStore``: batches, checkpoints, failures and clean-up, on both backends."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.domain.audience import DeliveryFigures, NotificationRecalled, PartitionOvertaken
from core.domain.notification import AuditRecord, NotificationState
from tests.builders import entry_for, notification
from tests.contract.conftest import Backend
from tests.fakes import FakeClock


async def test_a_batch_delivers_counts_and_moves_its_checkpoint_forward(
    backend: Backend, clock: FakeClock
) -> None:
    c = backend.container
    item = notification("n1", visible_from=clock.now())
    await c.notifications.put(item)
    entry = entry_for(item, clock.now())
    await c.members.deliver("m02", entry)  # had it already
    result = await c.fanout.deliver_batch("n1", "L.00", ["m01", "m02", "m03"], entry)
    assert (result.delivered, result.already, result.failed) == (2, 1, ())
    with pytest.raises(PartitionOvertaken):  # at or before the checkpoint: done already
        await c.fanout.deliver_batch("n1", "L.00", ["m00", "m03"], entry)
    more = await c.fanout.deliver_batch("n1", "L.00", ["m04"], entry)
    assert more.delivered == 1
    await c.fanout.finish_partition("n1", "L.00")
    checkpoints = await c.fanout.checkpoints("n1")
    assert checkpoints["L.00"].last == "m04" and checkpoints["L.00"].done
    assert (await c.fanout.delivery_totals(["n1"]))["n1"] == DeliveryFigures(3, 3, 0)
    assert set((await c.members.inbox_state("m03")).unread) == {"n1"}
    by_hand = await c.fanout.deliver_batch("n1", "user", ["m00"], entry, checkpointed=False)
    assert by_hand.delivered == 1 and (await c.fanout.checkpoints("n1"))["user"].last is None
    with pytest.raises(ValueError):
        await c.fanout.deliver_batch("n1", "L.01", [f"x{n:03d}" for n in range(49)], entry)


async def test_nothing_is_delivered_after_a_recall(backend: Backend, clock: FakeClock) -> None:
    c = backend.container
    item = notification("n1", visible_from=clock.now())
    await c.notifications.put(item)
    entry = entry_for(item, clock.now())
    await c.notifications.recall(
        replace(item, state=NotificationState.RECALLED),
        expected=NotificationState.PUBLISHED,
        audit=AuditRecord(clock.now(), "op", "recall", ""),
    )
    with pytest.raises(NotificationRecalled):
        await c.fanout.deliver_batch("n1", "L.00", ["m01"], entry)
    assert await c.members.inbox_entry("m01", "n1", entry.visible_from) is None


async def test_a_member_who_refuses_fails_alone_once_and_is_retried(
    backend: Backend, clock: FakeClock
) -> None:
    c = backend.container
    item = notification("n1", visible_from=clock.now())
    await c.notifications.put(item)
    entry = entry_for(item, clock.now())
    await backend.refuse("m02")
    first = await c.fanout.deliver_batch("n1", "L.00", ["m01", "m02", "m03"], entry)
    assert (first.delivered, [f.user_id for f in first.failed]) == (2, ["m02"])
    again = await c.fanout.deliver_batch("n1", "L.01", ["m02"], entry)  # another partition
    assert (again.delivered, [f.user_id for f in again.failed]) == (0, ["m02"])
    assert await c.fanout.has_failed("n1", "m02") and not await c.fanout.has_failed("n1", "m01")
    assert (await c.fanout.delivery_totals(["n1"]))["n1"] == DeliveryFigures(3, 2, 1)

    still = await c.fanout.retry_failed("n1", entry)
    assert (still.delivered, len(still.failed)) == (0, 1)
    await backend.heal("m02")
    skipped = await c.fanout.retry_failed("n1", entry, owns=lambda member: member != "m02")
    assert skipped.delivered == 0
    healed = await c.fanout.retry_failed("n1", entry)
    assert (healed.delivered, healed.failed) == (1, ())
    assert not await c.fanout.has_failed("n1", "m02")
    assert (await c.fanout.delivery_totals(["n1"]))["n1"] == DeliveryFigures(3, 3, 0)
    assert (await c.fanout.retry_member("n1", "m02", entry)).already == 1  # nothing left


async def test_a_clean_up_removes_every_member_the_log_names(
    backend: Backend, clock: FakeClock
) -> None:
    c = backend.container
    item = notification("n1", visible_from=clock.now())
    await c.notifications.put(item)
    entry = entry_for(item, clock.now())
    await c.fanout.deliver_batch("n1", "L.00", ["m01", "m02"], entry)
    await c.fanout.deliver_batch("n1", "L.01", ["m03"], entry)
    seen: list[int] = []
    assert await c.fanout.remove_delivered("n1", entry, seen.append) == 3
    assert seen[-1] == 3
    for member in ("m01", "m02", "m03"):
        assert await c.members.inbox_entry(member, "n1", entry.visible_from) is None
        assert (await c.members.inbox_state(member)).unread == {}
    assert await c.fanout.remove_delivered("n1", entry) == 0  # a rerun finds nothing left
