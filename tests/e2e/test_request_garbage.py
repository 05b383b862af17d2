"""A request is freed when it ends: no reference cycle keeps it for the cyclic collector.

Under load a cycle anywhere in a request (the executor and its helpers, a loader and its batch
method, a response parser and its blob parser) held the whole request (its context, loaders,
futures and items, about two hundred objects a home screen) until a collection, which then took
tens of milliseconds every couple of hundred requests (issue 18's garbage census). The hand-written
reference made no such garbage. This test serves home screens with the collector saving what it
finds, and fails on any of it that the server's code made.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from graphql import GraphQLResolveInfoHelpers

from bench.gc_timer.gc_census import kind
from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.domain.pointclub import ClubRecord
from resolvers import plain_fields
from tests.builders import notification, publish
from tests.e2e.gql import HOME, gql
from tests.fakes import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

# Where the request's objects come from: the server's own packages and the libraries it serves
# them with. The test's HTTP client and event loop plumbing are not the server's.
SERVER_MODULES = (
    "core.",
    "resolvers.",
    "schema.",
    "graphql.",
    "strawberry.",
    "botocore.",
    "aiobotocore.",
    "starlette.",
)


@contextmanager
def saved_garbage() -> Iterator[list[object]]:
    """What the cyclic collector finds unreachable during the block, kept for inspection."""
    found: list[object] = []
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.extend(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def server_made(garbage: list[object]) -> Counter[str]:
    """The garbage by type, named as `bench profile`'s census names it, of the server's packages."""
    return Counter(name for name in map(kind, garbage) if name.startswith(SERVER_MODULES))


async def _alice(container: Container, clock: FakeClock, tokens: DevTokenIssuer) -> str:
    await container.ledger.put_club("alice", ClubRecord.joined("GOLD", clock.now()))
    for index in range(5):
        item = notification(f"n{index}", visible_from=clock.now())
        await publish(container.notifications, container.members, item, ["alice"], clock.now())
    return tokens.issue("alice")


async def test_home_screens_leave_no_cyclic_garbage(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    token = await _alice(container, clock, tokens)
    first = await gql(api, HOME, {"first": 20}, token=token)  # warm: caches and plans
    assert "errors" not in first, first

    with saved_garbage() as garbage:
        for _ in range(3):
            body = await gql(api, HOME, {"first": 20}, token=token)
            assert body == first

    assert server_made(garbage) == Counter()


async def test_the_check_sees_the_executor_cycle_when_it_comes_back(
    api: httpx.AsyncClient,
    container: Container,
    clock: FakeClock,
    tokens: DevTokenIssuer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The control: graphql-core's own helpers (bound methods of the executor) put the cycle
    back, and the check finds the request's objects hanging from it."""

    def bound(executor: Any) -> GraphQLResolveInfoHelpers:
        return GraphQLResolveInfoHelpers(
            gather=executor.gather_async_work, track=executor.track_async_work
        )

    monkeypatch.setattr(plain_fields, "_weak_helpers", bound)
    token = await _alice(container, clock, tokens)
    await gql(api, HOME, {"first": 20}, token=token)

    with saved_garbage() as garbage:
        body = await gql(api, HOME, {"first": 20}, token=token)
        assert "errors" not in body, body

    found = server_made(garbage)
    assert found["resolvers.plain_fields.PlainFieldsExecutor"] == 1
    assert found["resolvers.context.Context"] == 1  # the whole request hung from it
