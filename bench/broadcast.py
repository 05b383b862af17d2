"""Broadcasts stored once: publish-to-visible latency and write calls at 10,000, 100,000 and
1,000,000 members in the rank index, and the home screen with 0, 10 and 100 live broadcasts.

Publish-to-visible, two ways, at each size (members added to the same table between sizes):
- now: `prepare-notification` of a DRAFT to ALL_MEMBERS (visibleFrom fixed at the publish);
  a member's home screen is read in a loop until it lists the broadcast and counts it. The
  latency is from visibleFrom to that read's answer; the calls are the publish's.
- scheduled: a broadcast scheduled 2 s ahead, published by `prepare-due` (its lead); the loop
  reads from then on, and the latency is from visibleFrom to the first answer that shows it.
The home screen: the GraphQL app in process (httpx over ASGI), the `bench home` query at
`first: 20` for a member with 50 entries of their own, sequential requests.
"""

from __future__ import annotations

import asyncio
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import Calls, Stopwatch, container_on, machine, percentile, start
from core.bootstrap import Container
from core.domain.pointclub import ClubRecord
from core.queries.inbox import InboxFilterSpec
from tests.builders import add_members, broadcast_for, dynamo, notification, publish
from tests.e2e.gql import HOME, app_client, gql

SIZES = (10_000, 100_000, 1_000_000)
LIVE = (0, 10, 100)
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
READER = "reader"
HOME_REQUESTS = 200


async def main(*, engine: str) -> None:
    started = start(engine)
    try:
        # Seeding a million members keeps the engine busy: calls may wait longer than a request.
        async with container_on(
            started, broadcast_lead_seconds=60, dynamodb_timeout_seconds=120
        ) as container:
            publishes = await publish_rows(container)
        async with container_on(started) as container:
            homes = await home_rows(container)
    finally:
        started.stop()
    shards = container.settings.recall_shards
    print(f"\n### Broadcasts: publish to visible ({started.name})\n")
    print(f"Machine: {machine()}. Command: `uv run python -m bench broadcast`.\n")
    print(
        "| members in the rank index | seeding | publish (prepare-notification) | calls of the "
        "publish | write calls | visible after visibleFrom (now) | visible after visibleFrom "
        "(scheduled, prepare-due ahead) |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in publishes:
        print(
            f"| {row['members']:,} | {row['seed_s']:.0f} s | {row['publish_ms']:.1f} ms | "
            f"{row['calls']} | {row['writes']} (K = {shards}) | {row['now_ms']:.1f} ms | "
            f"{row['scheduled_ms']:.1f} ms |"
        )
    print(f"\n### Home screen with live broadcasts ({started.name})\n")
    print(
        "| live broadcasts | DynamoDB calls per home screen | unreadCount | p50 | p99 | "
        "live-list copy size |"
    )
    print("|---|---|---|---|---|---|")
    for row in homes:
        print(
            f"| {row['live']} | {row['calls']} | {row['unread']} | {row['p50']:.1f} ms | "
            f"{row['p99']:.1f} ms | {row['copy_bytes']:,} bytes |"
        )


async def publish_rows(container: Container) -> list[dict[str, Any]]:
    await container.ledger.put_club(READER, ClubRecord.joined("GOLD", datetime.now(UTC)))
    calls = Calls()
    calls.attach(dynamo(container))
    rows = []
    seeded = 1
    for size in SIZES:
        with Stopwatch() as seeding:
            await add_members(container, size - seeded, "SILVER", f"s{size}-")
        seeded = size
        nid = await broadcast_for(container, datetime.now(UTC), segment=f"all-{size}")
        calls.take()
        with Stopwatch() as publishing:
            report = await container.prepare_notification().run(nid)
        operations = calls.take()
        assert report.broadcast and report.audience == size, (report, size)
        stored = await container.notifications.get(nid)
        assert stored is not None and stored.visible_from is not None
        now_ms = await visible_after(container, nid, stored.visible_from)
        scheduled_ms = await scheduled_latency(container, size)
        rows.append(
            {
                "members": size,
                "seed_s": seeding.ms / 1000,
                "publish_ms": publishing.ms,
                "calls": ", ".join(operations),
                "writes": sum(1 for op in operations if op in WRITES),
                "now_ms": now_ms,
                "scheduled_ms": scheduled_ms,
            }
        )
    return rows


async def visible_after(container: Container, nid: str, visible_from: datetime) -> float:
    """Read the reader's first page until it lists ``nid`` unread and counts it: the time from
    ``visibleFrom`` to that answer, in ms."""
    queries = container.inbox_queries()
    for _ in range(10_000):
        now = datetime.now(UTC)
        page = await queries.page(
            READER, first=20, after=None, spec=InboxFilterSpec(), locales=("ja",), now=now
        )
        if any(item.id == nid and not item.is_read for item in page.items):
            seen = datetime.now(UTC)
            assert page.unread_count >= 1
            return max(0.0, (seen - visible_from).total_seconds() * 1000)
        await asyncio.sleep(0.001)
    raise SystemExit(f"{nid} never showed")


async def scheduled_latency(container: Container, size: int) -> float:
    at = datetime.now(UTC) + timedelta(seconds=2)
    nid = await broadcast_for(container, datetime.now(UTC), segment=f"all-{size}")
    await container.authoring().schedule("bench", nid, at)
    due = await container.prepare_due().run(lambda _: None)
    assert [r.notification_id for r in due.prepared] == [nid], due
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds() - 0.05))
    return await visible_after(container, nid, at)


async def home_rows(container: Container) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    await container.ledger.put_club(READER, ClubRecord.joined("GOLD", now - timedelta(days=1)))
    for index in range(50):
        item = notification(f"own{index:03d}", visible_from=now - timedelta(minutes=60 - index))
        await publish(container.notifications, container.members, item, [READER], now)
    calls = Calls()
    calls.attach(dynamo(container))
    token = container.issuer.issue(READER, ttl=timedelta(hours=1))
    rows = []
    published = 0
    async with app_client(container.settings, container) as api:
        for live in LIVE:
            while published < live:
                nid = await broadcast_for(container, datetime.now(UTC), segment="everyone")
                await container.prepare_notification().run(nid)
                published += 1
            body = await gql(api, HOME, {"first": 20}, token=token)
            assert "errors" not in body, body
            calls.take()
            times = []
            for _ in range(HOME_REQUESTS):
                with Stopwatch() as watch:
                    await gql(api, HOME, {"first": 20}, token=token)
                times.append(watch.ms)
            per_request = calls.take()
            copy = await dynamo(container).get_item(
                TableName=container.settings.table_name,
                Key={"PK": {"S": "RECALLS#0"}, "SK": {"S": "META"}},
                ReturnConsumedCapacity="TOTAL",
            )
            rows.append(
                {
                    "live": live,
                    "calls": f"{len(per_request) / HOME_REQUESTS:.0f}",
                    "unread": body["data"]["viewer"]["unreadCount"],
                    "p50": statistics.median(times),
                    "p99": percentile(times, 0.99),
                    "copy_bytes": item_bytes(copy.get("Item", {})),
                }
            )
    return rows


def item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names and values, as UTF-8."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        for kind, content in value.items():
            if kind == "SS":
                size += sum(len(s.encode()) for s in content)
            else:
                size += len(str(content).encode())
    return size
