"""The DynamoDB adapters against a real engine (DynamoDB Local in CI)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from core.bootstrap import Container
from core.domain.inbox import entry_position
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.batch import batch_get
from core.infra.dynamodb.table import create_table
from core.ports import EntryRef, InboxScanRequest, ReadChange
from resolvers.dataloaders import DataLoaders
from tests.builders import dynamo, entry_for, notification, publish
from tests.conftest import CallRecorder
from tests.fakes import FakeClock

pytestmark = pytest.mark.integration


async def test_create_table_is_idempotent_and_enables_ttl(container: Container) -> None:
    assert await create_table(dynamo(container), container.settings.table_name) is False
    ttl = await dynamo(container).describe_time_to_live(TableName=container.settings.table_name)
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] in ("ENABLED", "ENABLING")
    assert ttl["TimeToLiveDescription"].get("AttributeName") == "ttl"


async def test_delivery_is_idempotent_and_keeps_read_state(
    container: Container, clock: FakeClock
) -> None:
    item = notification("n1", visible_from=clock.now() - timedelta(hours=1))
    await container.notifications.put(item)
    entry = entry_for(item, clock.now())
    assert await container.members.deliver("alice", entry) is True
    change = ReadChange(
        read=(entry.marker(),), stamp_read=(EntryRef(entry.notification_id, entry.visible_from),)
    )
    await container.members.apply("alice", change, clock.now())
    assert await container.members.deliver("alice", entry) is False
    state = await container.members.inbox_state("alice")
    assert "n1" not in state.unread
    stored = await container.members.inbox_entry("alice", "n1", entry.visible_from)
    assert stored is not None and stored.read_at == clock.now()


async def test_batch_get_splits_at_100_keys_and_dedupes(
    container: Container, clock: FakeClock, dynamo_calls: CallRecorder
) -> None:
    for index in range(250):
        await container.notifications.put(notification(f"n{index:03d}", visible_from=clock.now()))
    wanted = [f"n{index:03d}" for index in range(250)] + ["n000", "missing"]
    dynamo_calls.reset()
    found = await container.notifications.get_many(wanted)
    assert set(found) == {f"n{index:03d}" for index in range(250)}
    assert dynamo_calls.operations == ["BatchGetItem"] * 3


class UnprocessingClient:
    """The real client, except that the first BatchGetItem leaves half its keys unprocessed."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.batch_calls = 0

    async def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.batch_calls += 1
        if self.batch_calls > 1:
            return dict(await self._real.batch_get_item(RequestItems=RequestItems))
        ((table, request),) = RequestItems.items()
        keys_ = request["Keys"]
        kept, left = keys_[: len(keys_) // 2], keys_[len(keys_) // 2 :]
        response = dict(
            await self._real.batch_get_item(RequestItems={table: {**request, "Keys": kept}})
        )
        response["UnprocessedKeys"] = {table: {**request, "Keys": left}}
        return response


async def test_unprocessed_keys_are_retried(container: Container, clock: FakeClock) -> None:
    for index in range(10):
        await container.notifications.put(notification(f"n{index}", visible_from=clock.now()))
    flaky = UnprocessingClient(dynamo(container))
    wanted = [
        {keys.PK: codec.s(keys.notification_pk(f"n{index}")), keys.SK: codec.s(keys.META_SK)}
        for index in range(10)
    ]
    items = await batch_get(flaky, container.settings.table_name, wanted)  # type: ignore[arg-type]
    assert sorted(item["nid"]["S"] for item in items) == [f"n{index}" for index in range(10)]
    assert flaky.batch_calls == 2


async def test_loaders_dedupe_batch_and_answer_in_key_order(
    container: Container, clock: FakeClock, dynamo_calls: CallRecorder
) -> None:
    for nid in ("a", "b", "c"):
        await container.notifications.put(notification(nid, visible_from=clock.now()))
    loaders = DataLoaders.create(
        members=container.members, notifications=container.notifications, live=container.live
    )
    dynamo_calls.reset()
    first, second = await asyncio.gather(
        loaders.notifications.get_many(["c", "a", "missing"]),
        loaders.notifications.get_many(["b", "c"]),
    )
    assert list(first) == ["c", "a"] and list(second) == ["b", "c"]
    assert dynamo_calls.operations == ["BatchGetItem"]
    again = await loaders.notifications.get_many(["a", "b"])
    assert list(again) == ["a", "b"]
    assert dynamo_calls.operations == ["BatchGetItem"], "cached within the request"


async def test_a_page_continues_below_a_position_whose_item_is_gone(
    container: Container, clock: FakeClock
) -> None:
    now = clock.now()
    for index in range(5):
        item = notification(f"n{index}", visible_from=now - timedelta(minutes=index))
        await publish(container.notifications, container.members, item, ["alice"], now)
    # The cursor's own entry was removed (TTL clean-up, say): the page still continues below it.
    position = entry_position(now - timedelta(minutes=1, seconds=30), "gone")
    scan = await container.members.scan_inbox(
        "alice", InboxScanRequest(after=position, limit=10, now=now)
    )
    assert [entry.notification_id for entry in scan.entries] == ["n2", "n3", "n4"]


async def test_seed_demo_twice_changes_nothing(container: Container) -> None:
    first = await container.seed_demo()
    snapshot = await _all_items(container)
    second = await container.seed_demo()
    assert first.delivered > 0 and second.delivered == 0
    assert second.anchor == first.anchor
    assert await _all_items(container) == snapshot
    assert container.missions is not None  # the demo mission, once
    assert [m.mission_id for m in await container.missions.listed("demo-member")] == ["DEMOREAD3"]


async def _all_items(container: Container) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"TableName": container.settings.table_name, "ConsistentRead": True}
    while True:
        page = await dynamo(container).scan(**params)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))
