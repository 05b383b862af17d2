"""Inbox events on Redis pub/sub: the subscribing side, one per server process.

One pub/sub connection per process listens to the shared channel and to the channel of each
member with a subscription here (joined and left as subscriptions come and go, one at a time,
each confirmed by the broker before the subscription reads its baseline). Each message is
parsed once and offered to the feeds it concerns: a feed is a bounded queue per subscription;
one that falls behind is ended, never buffered without limit. When the broker goes away every
feed ends at once (a retryable close for the client) and the hub reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from core.domain.events import (
    CountedChange,
    EventSequence,
    EventsUnavailable,
    Feed,
    FeedEnded,
    ServerStopping,
    TooSlow,
)
from core.errors import InvalidInput
from core.infra.announcements import Announcements
from core.infra.events import CLOSE_SECONDS, EventChannels, RedisEvents, closed, connect
from core.observability.spans import tracer

log = structlog.get_logger("pointclub.events")

CONFIRM_SECONDS = 5.0  # the broker confirms a subscription within this, or it is unavailable
RECONNECT_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass
class _Member:
    feeds: set[Feed] = field(default_factory=set)


class EventHub:
    """The process's subscriber: ``status`` is ``ok``, ``unavailable`` or ``off``."""

    def __init__(
        self,
        url: str | None,
        channels: EventChannels,
        *,
        queue_limit: int,
        timeout: float = 2.0,
        ping_seconds: float = 5.0,
    ) -> None:
        self._url = url
        self._channels = channels
        self._queue_limit = queue_limit
        self._timeout = timeout
        self._ping_seconds = ping_seconds
        self._client: Redis | None = None  # baselines and announcements (safe to retry)
        self._listener: Redis | None = None  # the pub/sub connection: never reconnects by itself
        self._upcoming: Announcements | None = None
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._members: dict[str, _Member] = {}
        self._feeds: set[Feed] = set()
        self._confirming: tuple[str, asyncio.Future[None]] | None = None
        self._up = asyncio.Event()
        self._stopping = False  # end_feeds was called: no new feed, not ready

    @property
    def status(self) -> str:
        if self._url is None:
            return "off"
        return "ok" if self._up.is_set() and not self._stopping else "unavailable"

    @property
    def subscriptions(self) -> int:
        return len(self._feeds)

    async def start(self, *, wait: float = 0.0) -> None:
        if self._url is None:
            return
        self._client = connect(self._url, timeout=self._timeout, retries=1)
        self._listener = connect(self._url, timeout=self._timeout)
        self._upcoming = Announcements(RedisEvents(self._client, self._channels))
        self._task = asyncio.create_task(self._run(), name="events.hub")
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._up.wait()

    def end_feeds(self) -> None:
        self._stopping = True
        self._end_all(ServerStopping())

    async def stop(self) -> None:
        self.end_feeds()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(2 * CLOSE_SECONDS):  # its close is bounded too
                    await self._task
        if self._upcoming is not None:
            self._upcoming.cancel()
        for client in (self._client, self._listener):
            if client is not None:
                await closed(client.aclose)

    @asynccontextmanager
    async def feed(self, user_id: str) -> AsyncIterator[Feed]:
        """A feed of the member's events from now on, its sequence at the baseline."""
        if self._stopping:
            raise ServerStopping()
        if self._client is None or not self._up.is_set():
            raise EventsUnavailable()
        feed = Feed(user_id, self._queue_limit)
        self._feeds.add(feed)
        try:
            await self._join(user_id, feed)
            try:
                async with asyncio.timeout(self._timeout):
                    member, shared = await self._client.mget(
                        self._channels.member_counter(user_id), self._channels.shared_counter
                    )
            except (RedisError, OSError, TimeoutError) as error:
                raise EventsUnavailable() from error
            feed.sequence = EventSequence(int(member or 0), int(shared or 0))
            yield feed
        finally:
            self._feeds.discard(feed)
            await self._leave(user_id, feed)

    async def _join(self, user_id: str, feed: Feed) -> None:
        async with self._lock:
            member = self._members.get(user_id)
            if member is not None:
                member.feeds.add(feed)  # subscribed and confirmed already
                return
            pubsub = self._pubsub
            if pubsub is None:
                raise EventsUnavailable()
            self._members[user_id] = _Member({feed})
            await self._subscribe(pubsub, self._channels.member(user_id))

    async def _leave(self, user_id: str, feed: Feed) -> None:
        async with self._lock:
            member = self._members.get(user_id)
            if member is None:
                return
            member.feeds.discard(feed)
            if member.feeds:
                return
            del self._members[user_id]
            pubsub = self._pubsub
            if pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.unsubscribe(self._channels.member(user_id))

    async def _subscribe(self, pubsub: PubSub, channel: str) -> None:
        """Subscribe and wait until the broker confirms it (the reader sees the reply)."""
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirming = (channel, confirmed)
        try:
            await pubsub.subscribe(channel)
            async with asyncio.timeout(CONFIRM_SECONDS):
                await confirmed
        except (RedisError, OSError, TimeoutError) as error:
            raise EventsUnavailable() from error
        finally:
            self._confirming = None

    async def _run(self) -> None:
        attempt = 0
        while True:
            assert self._listener is not None
            pubsub = self._listener.pubsub()
            try:
                await pubsub.subscribe(self._channels.shared, self._channels.upcoming)
                await self._listen(pubsub)
            except (RedisError, OSError, TimeoutError) as error:
                was_up = self._up.is_set()
                self._down(error if was_up else None)
                if was_up:
                    attempt = 0
            finally:
                self._pubsub = None
                await closed(pubsub.aclose)
            await asyncio.sleep(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
            attempt += 1

    async def _listen(self, pubsub: PubSub) -> None:
        heard = time.monotonic()
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=self._ping_seconds)
            now = time.monotonic()
            if message is None:
                if pinged and now - heard > 2 * self._ping_seconds:
                    raise TimeoutError("the broker stopped answering")
                await pubsub.ping()
                pinged = True
                continue
            heard, pinged = now, False
            kind = message["type"]
            channel = _text(message["channel"]) if message.get("channel") is not None else ""
            if kind == "subscribe":
                if channel == self._channels.shared and not self._up.is_set():
                    self._pubsub = pubsub
                    self._up.set()
                    log.info("events.connected", subscriptions=len(self._feeds))
                elif self._confirming is not None and self._confirming[0] == channel:
                    _settle(self._confirming[1])
            elif kind == "message" and channel == self._channels.upcoming:
                if self._upcoming is not None:
                    self._upcoming.schedule(_text(message["data"]))
            elif kind == "message":
                self._dispatch(channel, message["data"])

    def _dispatch(self, channel: str, data: bytes) -> None:
        try:
            item = CountedChange.parse(data, time.monotonic())
        except InvalidInput as error:
            log.warning("events.unreadable", channel=channel, detail=str(error)[:200])
            return
        if channel == self._channels.shared:
            feeds: list[Feed] | set[Feed] = list(self._feeds)
            shared = True
        else:
            user_id = self._channels.member_of(channel)
            member = self._members.get(user_id) if user_id is not None else None
            feeds = list(member.feeds) if member is not None else []
            shared = False
        with tracer.trace("events.dispatch", resource=item.change.kind.value) as span:
            span.set_metric("events.feeds", len(feeds))
            for feed in feeds:
                was_open = feed.ended is None
                feed.offer(shared, item)
                if was_open and isinstance(feed.ended, TooSlow):
                    log.warning("events.slow_consumer", user_id=feed.user_id)
                    self._feeds.discard(feed)

    def _down(self, error: BaseException | None) -> None:
        if error is not None:
            log.warning(
                "events.disconnected",
                error=type(error).__name__,
                detail=str(error)[:200],
                subscriptions=len(self._feeds),
            )
        self._up.clear()
        self._pubsub = None
        self._end_all(EventsUnavailable())

    def _end_all(self, reason: FeedEnded) -> None:
        for feed in list(self._feeds):
            feed.end(reason)
        self._feeds.clear()
        self._members.clear()
        if self._confirming is not None and not self._confirming[1].done():
            self._confirming[1].set_exception(EventsUnavailable())


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _settle(confirmed: asyncio.Future[None]) -> None:
    if not confirmed.done():
        confirmed.set_result(None)
