"""The GraphQL tax alone: the home screen through the GraphQL app and through the hand-written
reference, both called in this process as ASGI apps, over stores that replay what DynamoDB
answered the first time. What is left is the CPU each spends on its own: Starlette, the view,
Strawberry, graphql-core, the loaders, the queries and the domain; no network, no engine, no
load generator, no other process. A third app, the GraphQL server's own queries called directly
(`bench/floor.py`), splits the difference into the GraphQL machinery and the queries' own cost.

Then both apps over the real stores (DynamoDB Local), 32 in flight as `bench home` loads them:
the reference's difference from its replayed figure is the DynamoDB client's CPU, which gives the
ratio `bench home` would see were the GraphQL server's client as cheap as the reference's
(reference + client) / (GraphQL + client); the two measured over the real stores give the ratio
as it is, in one process, with no load generator. The heap is frozen after the set-up, as both
servers freeze theirs (`core/heap.py`).
"""

from __future__ import annotations

import asyncio
import cProfile
import dataclasses
import pstats
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.routing import Route

from bench import floor, reference, tax_profile
from bench.harness import container_on, machine, start
from bench.home import QUERY, seed
from bench.home_report import MEMBERS
from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.heap import freeze_startup_heap
from resolvers.app import create_app, install

REQUESTS = 2_000  # per round and server
COUNTED = 200  # requests whose Python calls are counted, per app
ROUNDS = 3
Scope = dict[str, Any]


class FixedClock:
    """One instant for the whole run, so that a store's arguments repeat from request to request."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


class Replaying:
    """A store whose reads answer what the real store answered to the same arguments the first
    time (the run's instant is fixed, so they repeat)."""

    def __init__(self, store: object) -> None:
        self._store = store
        self._answers: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)
        if not asyncio.iscoroutinefunction(method):
            return method

        async def replay(*args: Any, **kwargs: Any) -> Any:
            key = repr((name, args, sorted(kwargs.items())))
            if key not in self._answers:
                self._answers[key] = await method(*args, **kwargs)
            return self._answers[key]

        return replay


def replaying(container: Container) -> Container:
    return dataclasses.replace(
        container,
        members=Replaying(container.members),
        notifications=Replaying(container.notifications),
        live=Replaying(container.live),
    )


def graphql_scope(token: str, body: bytes) -> tuple[Scope, bytes]:
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    return _scope("POST", "/graphql", b"", headers), body


def reference_scope(token: str) -> tuple[Scope, bytes]:
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
    return _scope("GET", "/home", b"first=20", headers), b""


def _scope(method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def call(app: Callable[..., Awaitable[None]], scope: Scope, body: bytes) -> bytes:
    """One request through the ASGI app; the answer's body (a status other than 200 stops)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(dict(scope), receive, send)
    status = sent[0]["status"]
    answer = b"".join(m.get("body", b"") for m in sent[1:])
    if status != 200 or b'"errors":' in answer:  # a GraphQL error is a 200: not a cheap success
        raise RuntimeError(f"{scope['path']} answered {status}: {answer[:300]!r}")
    return answer


async def cpu_per_request(
    app: Callable[..., Awaitable[None]],
    requests: list[tuple[Scope, bytes]],
    count: int,
    in_flight: int = 1,
) -> float:
    """Milliseconds of this process's CPU per request: ``count`` requests, ``in_flight`` at a
    time (each worker sends its next when its last is answered)."""
    turns = iter(range(count))

    async def worker() -> None:
        for index in turns:
            scope, body = requests[index % len(requests)]
            await call(app, scope, body)

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return 1000 * (time.process_time() - started) / count


async def python_calls(
    app: Callable[..., Awaitable[None]], requests: list[tuple[Scope, bytes]]
) -> float:
    """Python function calls a request (cProfile's count): the same from run to run where CPU
    time moves by a tenth, so an A/B of a small change shows in it on this machine."""
    profiler = cProfile.Profile()
    profiler.enable()
    for index in range(COUNTED):
        scope, body = requests[index % len(requests)]
        await call(app, scope, body)
    profiler.disable()
    return pstats.Stats(profiler).total_calls / COUNTED  # type: ignore[attr-defined,no-any-return]


async def main(*, engine: str) -> None:
    started = start(engine)
    try:
        async with container_on(started) as real:
            await seed(real)
            fixed = dataclasses.replace(real, clock=FixedClock(real.clock.now()))
            replayed = replaying(fixed)
            tokens = [
                DevTokenIssuer(real.settings).issue(f"member-{i:03d}", ttl=timedelta(hours=1))
                for i in range(MEMBERS)
            ]
            apps = {
                "graphql": create_app(real.settings),
                "floor": Starlette(routes=[Route("/home", floor.home)]),
                "reference": Starlette(routes=[Route("/home", reference.home)]),
            }
            for app in apps.values():
                install(app, replayed)
            ref_real = Starlette(routes=[Route("/home", reference.home)])
            install(ref_real, fixed)
            graphql_real = create_app(real.settings)
            install(graphql_real, fixed)
            body = orjson.dumps({"query": QUERY, "variables": {"first": 20}})
            graphql_requests = [graphql_scope(token, body) for token in tokens]
            reference_requests = [reference_scope(token) for token in tokens]
            asked = {
                "graphql": graphql_requests,
                "floor": reference_requests,
                "reference": reference_requests,
            }
            await check_same_answers(apps, graphql_requests, reference_requests)
            freeze_startup_heap()  # as both servers do after their startup: see core/heap.py
            rounds: list[dict[str, float]] = []
            for index in range(ROUNDS):
                figures: dict[str, float] = {}
                order = list(apps)[index % 3 :] + list(apps)[: index % 3]
                for label in order:
                    await cpu_per_request(apps[label], asked[label], REQUESTS // 10)  # warm
                    figures[label] = await cpu_per_request(apps[label], asked[label], REQUESTS)
                # As `bench home` loads the servers: 32 in flight, over DynamoDB Local.
                real_pair = [
                    ("graphql_real", graphql_real, graphql_requests),
                    ("reference_real", ref_real, reference_requests),
                ]
                for label, app, requests in real_pair[:: -1 if index % 2 else 1]:
                    await cpu_per_request(app, requests, REQUESTS // 10, 32)
                    figures[label] = await cpu_per_request(app, requests, REQUESTS // 2, 32)
                rounds.append(figures)
            calls = {label: await python_calls(apps[label], asked[label]) for label in apps}
            profiles = []
            if tax_profile.ENABLED:
                for label, app, requests, in_flight in [
                    ("GraphQL, replayed stores", apps["graphql"], graphql_requests, 1),
                    ("reference, replayed stores", apps["reference"], reference_requests, 1),
                    ("GraphQL, DynamoDB Local", graphql_real, graphql_requests, 32),
                    ("reference, DynamoDB Local", ref_real, reference_requests, 32),
                ]:
                    profiles += await tax_profile.profile(label, app, requests, in_flight, call)
    finally:
        started.stop()
    report(rounds, calls)
    print("\n".join(profiles))


async def check_same_answers(
    apps: dict[str, Starlette],
    graphql_requests: list[tuple[Scope, bytes]],
    reference_requests: list[tuple[Scope, bytes]],
) -> None:
    """All three answer every member with the same items, counts and status, the floor with the
    GraphQL app's very bytes (or the run stops)."""
    for (g_scope, g_body), (r_scope, r_body) in zip(
        graphql_requests, reference_requests, strict=True
    ):
        answer = await call(apps["graphql"], g_scope, g_body)
        viewer = orjson.loads(answer)["data"]["viewer"]
        home = orjson.loads(await call(apps["reference"], r_scope, r_body))
        same = (
            viewer["unreadCount"] == home["unreadCount"]
            and [e["node"] for e in viewer["inbox"]["edges"]] == home["inbox"]
            and viewer["pointClub"] == home["pointClub"]
            and await call(apps["floor"], r_scope, r_body) == answer
        )
        if not same:
            raise RuntimeError(f"the answers differ: {viewer} against {home}")


def report(rounds: list[dict[str, float]], calls: dict[str, float]) -> None:
    median = {label: statistics.median(r[label] for r in rounds) for label in rounds[0]}
    graphql, own, ref = median["graphql"], median["floor"], median["reference"]
    client = median["reference_real"] - ref
    print("\n### The GraphQL tax in process (replayed stores)\n")
    print(
        f"Machine: {machine()}. Command: `uv run python -m bench tax`. {MEMBERS} members' home "
        f"screens (`first: 20`), {REQUESTS:,} requests a round one after another through each "
        f"ASGI app in this process over replayed stores, then {REQUESTS // 2:,} at 32 in flight "
        f"over DynamoDB Local; {ROUNDS} rounds, the order turned each round; medians. CPU of "
        "this process a request.\n"
    )
    print(
        "| round | GraphQL, replayed | its queries alone, replayed | reference, replayed "
        "| GraphQL, real stores | reference, real stores |"
    )
    print("|---|---|---|---|---|---|")
    for index, r in enumerate(rounds, 1):
        cells = (r[k] for k in ("graphql", "floor", "reference", "graphql_real", "reference_real"))
        print(f"| {index} | " + " | ".join(f"{c:.3f} ms" for c in cells) + " |")
    print(
        f"\nThe tax: {graphql - ref:.3f} ms a request ({graphql / ref:.2f} × the reference's "
        f"own {ref:.3f} ms): the GraphQL machinery {graphql - own:.3f} ms (the app less its own "
        f"queries called directly, `bench/floor.py`), the queries and their views over the "
        f"reference's {own - ref:.3f} ms. The DynamoDB client at 32 in flight: {client:.3f} ms a "
        "request, paid by both (the reference over DynamoDB Local less its replayed CPU, so it "
        "holds the reference's own extra work under concurrency too, and the projections lean "
        f"high). Server-CPU ratio, reference / GraphQL, projected from the replayed figures: "
        f"{(ref + client) / (graphql + client):.2f}; with the queries alone: "
        f"{(ref + client) / (own + client):.2f}; measured over the real stores: "
        f"{median['reference_real'] / median['graphql_real']:.2f} (issue 18's target: ≥ 0.9).\n"
    )
    print(
        f"Python function calls a request, replayed ({COUNTED} requests under cProfile): GraphQL "
        f"{calls['graphql']:,.0f}, its queries alone {calls['floor']:,.0f}, reference "
        f"{calls['reference']:,.0f}.\n"
    )
