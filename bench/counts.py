"""A member with 5,000 inbox entries, 1,000 of them unread: what unreadCount and
markAllNotificationsRead cost, in DynamoDB calls and latency, through the GraphQL API."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import httpx

from bench.harness import Calls, Stopwatch, container_on, machine, start, summary
from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.domain.inbox import InboxEntry
from core.ports import EntryRef, ReadChange
from core.usecases.read_counting import ReadCounting
from resolvers.app import create_app, install
from tests.builders import dynamo, entry_for, notification

ENTRIES = 5_000
UNREAD = 1_000
COUNT_RUNS = 100
MARK_ALL_RUNS = 10
COUNT = "{ viewer { unreadCount } }"
MARK_ALL = "mutation { markAllNotificationsRead { unreadCount } }"


async def main(*, engine: str) -> None:
    started = start(engine)
    try:
        async with container_on(started) as container:
            await run(container, started.name)
    finally:
        started.stop()


async def seed(container: Container, user: str) -> list[InboxEntry]:
    now = container.clock.now()
    limit = asyncio.Semaphore(16)

    async def one(index: int) -> InboxEntry:
        item = notification(f"n{index:05d}", visible_from=now - timedelta(minutes=index + 1))
        entry = entry_for(item, now)
        async with limit:
            await container.notifications.put(item)
            await container.members.deliver(user, entry)
        return entry

    entries = list(await asyncio.gather(*(one(index) for index in range(ENTRIES))))
    read = entries[UNREAD:]
    for start_at in range(0, len(read), 99):
        chunk = read[start_at : start_at + 99]
        change = ReadChange(
            read=tuple(e.marker() for e in chunk),
            stamp_read=tuple(EntryRef(e.notification_id, e.visible_from) for e in chunk),
        )
        await container.members.apply(user, change, now)
    return entries[:UNREAD]


async def restore_unread(container: Container, user: str, unread: list[InboxEntry]) -> None:
    change = ReadChange(unread=tuple(e.marker() for e in unread))
    await container.members.apply(user, change, container.clock.now())


async def run(container: Container, engine_name: str) -> None:
    user = "bench-member"
    unread = await seed(container, user)
    await container.read_stats.count_pending_reads(user)  # the seed's own 4,000 reads
    # Counting the queued reads runs after the response; measure it apart, not inside mark-all.
    container = replace(container, read_counting=NoCounting(container.read_stats))
    app = create_app(container.settings, container=container)
    install(app, container)
    token = DevTokenIssuer(container.settings).issue(user)
    headers = {"Authorization": f"Bearer {token}"}
    calls = Calls()
    calls.attach(dynamo(container))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        count_ms: list[float] = []
        count_calls: list[str] = []
        for _ in range(COUNT_RUNS):
            calls.take()
            with Stopwatch() as watch:
                body = (
                    await client.post("/graphql", json={"query": COUNT}, headers=headers)
                ).json()
            count_ms.append(watch.ms)
            count_calls = calls.take()
            assert body["data"]["viewer"]["unreadCount"] == UNREAD, body
        mark_ms: list[float] = []
        mark_calls: list[str] = []
        counting_ms: list[float] = []
        counting_calls: list[str] = []
        for _ in range(MARK_ALL_RUNS):
            await restore_unread(container, user, unread)
            calls.take()
            with Stopwatch() as watch:
                body = (
                    await client.post("/graphql", json={"query": MARK_ALL}, headers=headers)
                ).json()
            mark_ms.append(watch.ms)
            mark_calls = calls.take()
            assert body["data"]["markAllNotificationsRead"]["unreadCount"] == 0, body
            with Stopwatch() as watch:
                counted = await container.read_stats.count_pending_reads(user)
            if not counting_ms:  # the first time: 1,000 reads never counted before
                assert counted == UNREAD, counted
                counting_ms.append(watch.ms)
                counting_calls = calls.take()
            calls.take()

    print(f"\n### Read-state counts: {ENTRIES:,} entries, {UNREAD:,} unread ({engine_name})\n")
    print(f"Machine: {machine()}. Command: `uv run python -m bench counts`.\n")
    print("| operation | DynamoDB calls per request | latency |")
    print("|---|---|---|")
    print(
        f"| `viewer {{ unreadCount }}` | {len(count_calls)} ({', '.join(count_calls)}) | "
        f"{summary(count_ms)} |"
    )
    print(
        f"| `markAllNotificationsRead` | {len(mark_calls)} ({', '.join(mark_calls)}) | "
        f"{summary(mark_ms)} |"
    )
    kinds = sorted(set(counting_calls))
    print(
        f"| counting the 1,000 reads afterwards (background, first time) | "
        f"{len(counting_calls)} ({', '.join(f'{counting_calls.count(k)} {k}' for k in kinds)}) | "
        f"{summary(counting_ms)} |"
    )


class NoCounting(ReadCounting):
    def schedule(self, user_id: str) -> None:
        return None
