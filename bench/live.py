"""The live inbox under load: 10,000 subscriptions on one `pointclub serve`, then 2 × 5,000 on two
instances behind one redis-server; DynamoDB Local; the clients in this process.

- memory: the server's RSS before the connections and with all of them subscribed (each
  connection has had its SYNC), per connection;
- fan-out latency: a notification to a user list of every tenth subscriber, fanned out by the
  same usecase `prepare-notification` runs (in this process, so one clock): from the moment each
  delivery batch has committed (its events are published right after) to the subscriber
  receiving its NEW_ITEM;
- broadcast: one ALL_MEMBERS broadcast (LIVE rule) to every subscriber: from the publish
  (committed) to each subscriber's NEW_ITEM, the last one included.

Server, broker, engine and the 10,000 clients share this machine's two cores: the figures are
what one such machine does, not a server's ceiling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect

from bench.harness import BIN, container_on, machine, percentile, start
from bench.home import server_env
from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.domain.events import InboxChange
from core.domain.notification_draft import Audience, AudienceKind, AudienceRule
from core.endpoints import open_events
from core.ports import InboxEvents
from tests.brokers import start_broker
from tests.builders import add_members, broadcast_for, draft, user_list
from tests.engines import Engine, free_port, wait_for_port

MEMBERS = int(os.environ.get("BENCH_LIVE_MEMBERS", "10000"))
RAMP = 100  # connections opened at once
QUERY = "subscription { inboxEvents { seq kind unreadCount ids item { id title } } }"


class TimedEvents:
    """The real publisher, noting when each member's event left (right after its commit)."""

    def __init__(self, inner: InboxEvents) -> None:
        self._inner = inner
        self.sent: dict[str, float] = {}
        self.everyone: float | None = None

    async def to_members(self, user_ids: Sequence[str], change: InboxChange) -> None:
        at = time.perf_counter()
        for user_id in user_ids:
            self.sent[user_id] = at
        await self._inner.to_members(user_ids, change)

    async def to_everyone(self, change: InboxChange) -> None:
        self.everyone = time.perf_counter()
        await self._inner.to_everyone(change)

    async def announce(self, notification_id: str) -> None:
        self.everyone = time.perf_counter()
        await self._inner.announce(notification_id)

    async def upcoming(self, notification_id: str, visible_from: datetime) -> None:
        await self._inner.upcoming(notification_id, visible_from)


@dataclass
class Subscriber:
    user_id: str
    ws: ClientConnection
    received: dict[str, float] = field(default_factory=dict)  # notification id -> when
    task: asyncio.Task[None] | None = None

    async def read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if message["type"] == "ping":
                await self.ws.send('{"type":"pong"}')
            elif message["type"] == "next":
                event = message["payload"]["data"]["inboxEvents"]
                if event["kind"] == "NEW_ITEM":
                    self.received[event["ids"][0]] = time.perf_counter()


async def subscribe(host: str, user_id: str, token: str) -> Subscriber:
    ws = await connect(
        f"ws://{host}/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        open_timeout=120,
        ping_interval=None,
        max_queue=64,
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": QUERY}}))
    first = json.loads(await ws.recv())
    assert first["payload"]["data"]["inboxEvents"]["kind"] == "SYNC", first
    subscriber = Subscriber(user_id, ws)
    subscriber.task = asyncio.create_task(subscriber.read())
    return subscriber


async def subscribe_all(hosts: list[str], members: list[str], issuer: DevTokenIssuer) -> list[Any]:
    limit = asyncio.Semaphore(RAMP)

    async def one(index: int, user_id: str) -> Subscriber:
        async with limit:
            token = issuer.issue(user_id, ttl=timedelta(hours=2))
            return await subscribe(hosts[index % len(hosts)], user_id, token)

    return list(await asyncio.gather(*(one(i, m) for i, m in enumerate(members))))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def serve(
    engine: Engine, container: Container, redis_url: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = server_env(engine, container, tracing=None)  # as `bench home` serves, plus Redis
    env.update(
        POINTCLUB_REDIS_URL=redis_url,
        POINTCLUB_WS_PING_SECONDS="60",
        POINTCLUB_DYNAMODB_TIMEOUT_SECONDS="60",
    )
    process = subprocess.Popen(
        [str(BIN / "pointclub"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, timeout=60)
    return process, f"127.0.0.1:{port}"


async def latencies(
    container: Container, events: TimedEvents, subscribers: list[Subscriber], members: list[str]
) -> dict[str, Any]:
    by_user = {s.user_id: s for s in subscribers}
    # Fan-out to every tenth subscriber.
    chosen = members[::10]
    name = f"live-{time.monotonic_ns()}"
    await user_list(container, name, chosen)
    created = await container.authoring().create(
        "bench", draft(Audience(AudienceKind.SEGMENT, segment=name), container.clock.now())
    )
    nid = created.notification_id
    await container.prepare_notification().run(nid)
    fanout = await _wait(nid, [by_user[m] for m in chosen])
    fanout_ms = [
        (by_user[m].received[nid] - events.sent[m]) * 1000
        for m in chosen
        if nid in by_user[m].received
    ]
    # A broadcast to everyone.
    segment = f"everyone-{time.monotonic_ns()}"
    broadcast = await broadcast_for(
        container, container.clock.now(), segment=segment, audience_rule=AudienceRule.LIVE
    )
    await container.prepare_notification().run(broadcast)
    assert events.everyone is not None
    published = events.everyone
    reached = await _wait(broadcast, subscribers)
    broadcast_ms = [
        (s.received[broadcast] - published) * 1000 for s in subscribers if broadcast in s.received
    ]
    return {
        "fanout": fanout_ms,
        "fanout_missing": fanout,
        "broadcast": broadcast_ms,
        "broadcast_missing": reached,
    }


async def _wait(nid: str, subscribers: list[Subscriber], seconds: float = 600) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        missing = sum(1 for s in subscribers if nid not in s.received)
        if missing == 0:
            return 0
        await asyncio.sleep(0.05)
    return sum(1 for s in subscribers if nid not in s.received)


async def close_all(subscribers: list[Subscriber]) -> None:
    async def one(s: Subscriber) -> None:
        if s.task is not None:
            s.task.cancel()
        await s.ws.close()

    for start_at in range(0, len(subscribers), 500):
        await asyncio.gather(*(one(s) for s in subscribers[start_at : start_at + 500]))


async def run(engine: Engine, instances: int, members_count: int) -> dict[str, Any]:
    broker = start_broker()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        async with (
            container_on(engine, dynamodb_timeout_seconds=120) as plain,
            contextlib.AsyncExitStack() as stack,
        ):
            with_broker = plain.settings.model_copy(update={"redis_url": SecretStr(broker.url)})
            inner = await stack.enter_async_context(open_events(with_broker))
            events = TimedEvents(inner)
            timed: InboxEvents = events
            container = replace(plain, events=timed)
            members = await add_members(container, members_count, rank="GOLD", prefix="live")
            hosts = []
            for _ in range(instances):
                process, host = serve(engine, container, broker.url)
                processes.append(process)
                hosts.append(host)
            async with httpx.AsyncClient() as http:
                for host in hosts:
                    await http.get(f"http://{host}/readyz")
            before = sum(rss_mb(p.pid) for p in processes)
            started = time.perf_counter()
            subscribers = await subscribe_all(hosts, members, DevTokenIssuer(container.settings))
            ramp_s = time.perf_counter() - started
            after = sum(rss_mb(p.pid) for p in processes)
            figures = await latencies(container, events, subscribers, members)
            await close_all(subscribers)
            return {
                "instances": instances,
                "subscriptions": len(subscribers),
                "ramp_s": ramp_s,
                "rss_before": before,
                "rss_after": after,
                **figures,
            }
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        broker.stop()


def _row(r: dict[str, Any]) -> str:
    per_kb = (r["rss_after"] - r["rss_before"]) * 1024 / max(1, r["subscriptions"])
    fan, cast = r["fanout"], r["broadcast"]
    return (
        f"| {r['instances']} | {r['subscriptions']:,} | {r['ramp_s']:.0f} s | "
        f"{r['rss_before']:.0f} → {r['rss_after']:.0f} MB ({per_kb:.0f} KB each) | "
        f"{len(fan):,}: p50 {statistics.median(fan):.0f} ms, p99 {percentile(fan, 0.99):.0f} ms"
        f"{_missing(r['fanout_missing'])} | "
        f"{len(cast):,}: p50 {statistics.median(cast):.0f} ms, p99 "
        f"{percentile(cast, 0.99):.0f} ms, last {max(cast):.0f} ms"
        f"{_missing(r['broadcast_missing'])} |"
    )


def _missing(count: int) -> str:
    return f" ({count} never arrived)" if count else ""


async def main(*, engine: str) -> None:
    started = start(engine)
    try:
        rows = [await run(started, 1, MEMBERS), await run(started, 2, MEMBERS)]
    finally:
        started.stop()
    print(f"\n### Live inbox: {MEMBERS:,} subscriptions ({started.name}, redis-server)\n")
    print(f"Machine: {machine()}. Command: `uv run python -m bench live`.\n")
    print(
        "| server instances | subscriptions | connect + subscribe (100 at a time) | server RSS "
        "before → after | fan-out to every 10th: commit to event | broadcast to all: publish "
        "to event |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(_row(row))
