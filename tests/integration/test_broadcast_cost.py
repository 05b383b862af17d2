"""A broadcast's publish costs the same calls whatever its audience: measured on the real client
at 1,000 and at 100,000 members in the rank index (written with BatchWriteItem, counted per rank
as the jobs count them)."""

from __future__ import annotations

import time

import pytest

from core.bootstrap import Container
from core.domain.notification import NotificationState
from tests.builders import add_members, broadcast_for
from tests.conftest import CallRecorder
from tests.fakes import FakeClock

pytestmark = pytest.mark.integration

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


async def publish_calls(
    container: Container, clock: FakeClock, calls: CallRecorder, segment: str
) -> list[str]:
    nid = await broadcast_for(container, clock.now(), segment=segment)
    calls.reset()
    report = await container.prepare_notification().run(nid)
    assert report.state is NotificationState.PUBLISHED
    operations = list(calls.operations)
    stored = await container.notifications.get(nid)
    assert stored is not None and stored.broadcast_reach == report.audience
    return operations


async def test_publishing_to_a_hundred_times_the_members_costs_the_same_calls(
    container: Container, clock: FakeClock, dynamo_calls: CallRecorder
) -> None:
    await add_members(container, 1_000, "GOLD", "a")
    small = await publish_calls(container, clock, dynamo_calls, "small")
    started = time.perf_counter()
    await add_members(container, 99_000, "SILVER", "b")
    seeded = time.perf_counter() - started
    large = await publish_calls(container, clock, dynamo_calls, "large")
    assert sorted(small) == sorted(large), (small, large)
    writes = [op for op in large if op in WRITES]
    assert writes == ["TransactWriteItems"], large  # the notification and the K list copies
    reach = await container.notifications.page_by_state(NotificationState.PUBLISHED, None, 2)
    assert sorted(n.broadcast_reach or 0 for n in reach) == [1_000, 100_000], (
        f"seeded {seeded:.0f}s"
    )
