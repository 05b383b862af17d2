"""A stopping server stops: closing a broker connection that never finishes closing (redis-py's
close can wait on the socket forever, redis/redis-py#3941) holds the shutdown a bounded time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from core.domain.events import ServerStopping
from core.infra.event_hub import EventHub
from core.infra.events import CLOSE_SECONDS, EventChannels, RedisEvents, connect
from tests.brokers import Broker, start_broker

pytestmark = pytest.mark.integration


@pytest.fixture
def broker() -> Iterator[Broker]:
    started = start_broker()
    yield started
    started.stop()


def never_closing(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Closes that never finish; what they were asked to close, to close it for real after."""
    held: list[Any] = []

    async def hang(self: object, *args: object, **kwargs: object) -> None:
        held.append(self)
        await asyncio.Event().wait()

    monkeypatch.setattr(PubSub, "aclose", hang)
    monkeypatch.setattr(Redis, "aclose", hang)
    return held


async def really_close(monkeypatch: pytest.MonkeyPatch, held: list[Any]) -> None:
    monkeypatch.undo()
    for connection in held:
        await connection.aclose()


async def test_the_hub_stops_though_its_connections_never_close(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = EventHub(broker.url, EventChannels.for_table("stop"), queue_limit=10)
    await hub.start(wait=5)
    assert hub.status == "ok"
    held = never_closing(monkeypatch)
    started = time.monotonic()
    await asyncio.wait_for(hub.stop(), timeout=20)
    assert time.monotonic() - started < 4 * CLOSE_SECONDS + 1
    assert len(held) == 3  # the subscription and both clients were asked
    await really_close(monkeypatch, held)


async def test_the_publisher_closes_though_its_connection_never_does(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = RedisEvents(connect(broker.url, timeout=1), EventChannels.for_table("stop"))
    held = never_closing(monkeypatch)
    started = time.monotonic()
    await asyncio.wait_for(events.close(), timeout=20)
    assert time.monotonic() - started < CLOSE_SECONDS + 1
    await really_close(monkeypatch, held)


async def test_ended_feeds_end_with_server_stopping_and_no_new_one_starts(broker: Broker) -> None:
    """What a stopping server does first (resolvers/app.py, DrainingServer): every open feed ends
    with ServerStopping (1001), a subscription that comes after is refused the same way, and
    the hub no longer reports itself ready."""
    hub = EventHub(broker.url, EventChannels.for_table("drain"), queue_limit=10)
    await hub.start(wait=5)
    try:
        async with hub.feed("alice") as feed:
            hub.end_feeds()
            assert isinstance(feed.ended, ServerStopping)
            assert feed.ended.code == 1001
        with pytest.raises(ServerStopping):
            async with hub.feed("bob"):
                pass
        assert hub.status == "unavailable"
        assert hub.subscriptions == 0
    finally:
        await hub.stop()
