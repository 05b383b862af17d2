"""The home screen under load: GraphQL against the hand-written reference (the GraphQL tax), and
tracing on against off, each pair measured in one run against the same DynamoDB Local.

Servers are real uvicorn processes; the load comes from this process over loopback, with a fixed
number of requests in flight for a fixed time after a warm-up.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import httpx

from bench.harness import BIN, Calls, container_on, start, trace_agent
from bench.home_report import (
    DURATION,
    FRESH,
    LARGEST,
    MEMBERS,
    SMALLEST,
    WARMUP,
    Load,
    Round,
    report,
)
from bench.load import drive, drive_httpx, graphql_requests, reference_requests
from core.auth import DevTokenIssuer
from core.bootstrap import Container
from resolvers.app import create_app, install
from tests.brokers import start_broker
from tests.builders import dynamo, notification, publish
from tests.engines import Engine, free_port, wait_for_port

ROUNDS = 3  # alternating rounds at 32 in flight; the figures are their medians
QUERY = (
    "query Home($first: Int!) { viewer { unreadCount inbox(first: $first) "
    "{ edges { node { id title isRead } } } pointClub { balance rank { code } } } }"
)


async def main(*, engine: str) -> None:
    started = start(engine)
    stack = ExitStack()
    try:
        async with container_on(started) as container:
            await seed(container)
            calls = await calls_per_first(container)
            tokens = [
                DevTokenIssuer(container.settings).issue(f"member-{i:03d}", ttl=timedelta(hours=2))
                for i in range(MEMBERS)
            ]
            broker = start_broker()
            stack.callback(broker.stop)
            graphql = graphql_server(started, container, broker.url)
            reference = reference_server(started, container)
            rows: list[Load] = []
            for concurrency in (1, 8):
                rows.append(await measure("GraphQL", graphql, tokens, concurrency, graphql=True))
                rows.append(await measure("reference", reference, tokens, concurrency))
            agent_url, agent_pid = stack.enter_context(trace_agent())
            traced = graphql_server(started, container, broker.url, tracing=agent_url)
            rounds: list[Round] = []
            # Each round: (label, server, beside) for GraphQL, the reference, tracing on, off.
            servers = [
                ("GraphQL", graphql, None),
                ("reference", reference, None),
                ("GraphQL, tracing on", traced, agent_pid),
                ("GraphQL, tracing off", graphql, None),
            ]
            for index in range(ROUNDS):
                # Alternating: each server of a pair goes first in every other round.
                order = [1, 0, 3, 2] if index % 2 else [0, 1, 2, 3]
                loads: dict[int, Load] = {}
                for at in order:
                    label, server, beside = servers[at]
                    loads[at] = await measure(
                        f"{label}, round {index + 1}",
                        server,
                        tokens,
                        32,
                        graphql=server is not reference,
                        beside=beside,
                    )
                rounds.append(Round(*(loads[at] for at in range(4))))
    finally:
        stack.close()
        started.stop()
    report(rows, rounds, calls, started.name)


def inbox_size(member: int) -> int:
    return SMALLEST + (LARGEST - SMALLEST) * member // max(1, MEMBERS - 1)


async def seed(container: Container) -> None:
    """Members with 20 to 1,000 entries, all read but the last ten (a realistic state item)."""
    now = container.clock.now()
    members = [f"member-{i:03d}" for i in range(MEMBERS)]
    limit = asyncio.Semaphore(16)

    async def one(index: int, recipients: list[str], minutes: int) -> None:
        item = notification(
            f"n{index:04d}",
            visible_from=now - timedelta(minutes=minutes),
            ja=f"お知らせ {index}",
            en=f"Notice {index}",
        )
        async with limit:
            await publish(container.notifications, container.members, item, recipients, now)

    await asyncio.gather(
        *(
            one(index, [m for i, m in enumerate(members) if inbox_size(i) > index], index + 60)
            for index in range(LARGEST)
        )
    )
    commands = container.read_state_commands()
    for member in members:
        await commands.mark_all_read(member, None)
        # As the server would soon after: count the reads, which empties the queue in the state.
        await container.read_stats.count_pending_reads(member)
    await asyncio.gather(*(one(LARGEST + k, members, k + 1) for k in range(FRESH)))


async def calls_per_first(container: Container) -> dict[str, list[str]]:
    """The calls of a home screen at first = 1, 20, 100 (each page's new items read from the
    table), then of the same first = 20 again (the content cache holding them)."""
    app = create_app(container.settings, container=container)
    install(app, container)
    recorder = Calls()
    recorder.attach(dynamo(container))
    token = DevTokenIssuer(container.settings).issue("member-000")
    found = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for first, name in ((1, "1"), (20, "20"), (100, "100"), (20, "20, again")):
            recorder.take()
            response = await client.post(
                "/graphql",
                json={"query": QUERY, "variables": {"first": first}},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert "errors" not in response.json(), response.text
            found[name] = recorder.take()
    return found


def server_env(engine: Engine, container: Container, tracing: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POINTCLUB_", "DD_"))}
    env.update(
        POINTCLUB_DYNAMODB_ENDPOINT=engine.url,
        POINTCLUB_TABLE_NAME=container.settings.table_name,
        POINTCLUB_EMBEDDED_EVENTS_PORT=str(free_port()),
    )
    if tracing:
        env.update(DD_TRACE_AGENT_URL=tracing, DD_TRACE_ENABLED="true", DD_ENV="bench")
    else:
        env["DD_TRACE_ENABLED"] = "false"
    return env


def graphql_server(
    engine: Engine, container: Container, redis_url: str, tracing: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """`pointclub serve` as deployed: its live events on a Redis (a redis-server where one is
    installed), not on the embedded broker, whose polling thread is a development convenience
    that would bill the GraphQL server for something production does not run."""
    env = server_env(engine, container, tracing)
    env["POINTCLUB_REDIS_URL"] = redis_url
    return [str(BIN / "pointclub"), "serve", "--port", "{port}"], env


def reference_server(engine: Engine, container: Container) -> tuple[list[str], dict[str, str]]:
    return (
        [
            str(BIN / "uvicorn"),
            "bench.reference:create",
            "--factory",
            "--port",
            "{port}",
            "--log-level",
            "info",
            "--no-server-header",
        ],
        server_env(engine, container, None),
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    label: str,
    server: tuple[list[str], dict[str, str]],
    tokens: list[str],
    concurrency: int,
    *,
    graphql: bool = False,
    beside: int | None = None,
) -> Load:
    port = free_port()
    command, env = server
    process = subprocess.Popen(
        [part.replace("{port}", str(port)) for part in command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        requests = home_requests(tokens, graphql)
        load = drive_httpx if os.environ.get("BENCH_LOAD") == "httpx" else drive
        await load(port, requests, concurrency, WARMUP)
        cpu_before = cpu_seconds(process.pid)
        beside_before = 0.0 if beside is None else cpu_seconds(beside)
        load_before = time.process_time()
        latencies, seconds = await load(port, requests, concurrency, DURATION)
        load_cpu = time.process_time() - load_before
        cpu = cpu_seconds(process.pid) - cpu_before
    finally:
        process.terminate()
        process.wait(timeout=20)
    # The trace agent may still work through what it was sent (and what the server flushed as it
    # stopped) after the window: wait until it is idle, so that none of it runs during the next
    # round, and count its CPU in full.
    beside_cpu = 0.0 if beside is None else await idle_cpu(beside) - beside_before
    return Load(label, concurrency, len(latencies), seconds, latencies, cpu, beside_cpu, load_cpu)


async def idle_cpu(
    pid: int, *, quiet: float = 0.01, every: float = 0.5, limit: float = 60
) -> float:
    """The process's CPU seconds once it has gone idle (under ``quiet`` s of CPU in ``every`` s),
    waiting at most ``limit`` s."""
    used = cpu_seconds(pid)
    for _ in range(int(limit / every)):
        await asyncio.sleep(every)
        now = cpu_seconds(pid)
        if now - used < quiet:
            return now
        used = now
    return used


def home_requests(tokens: list[str], graphql: bool) -> list[bytes]:
    """The home screen of each member in turn: the GraphQL query, or the reference's GET."""
    if graphql:
        return graphql_requests(tokens, QUERY, {"first": 20})
    return reference_requests(tokens, 20)
