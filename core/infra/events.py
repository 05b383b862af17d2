"""Inbox events on Redis (or Valkey) pub/sub: the publishing side, for servers and batch jobs.

Each publish is one Lua script: the counter moves and the message goes out in one atomic step,
so every subscriber receives a channel's messages in counter order whatever the number of
publishers (``core/domain/events.py``). The member's own changes go on ``<prefix>m:<user>``,
a change for everyone (a broadcast, a recall, an amend) once on ``<prefix>all``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.domain.events import ChangeKind, InboxChange, new_item
from core.observability.spans import tracer

log = structlog.get_logger("pointclub.events")

# INCR, refresh the member counter's lifetime, PUBLISH "<n> <change>"; returns n.
PUBLISH_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
redis.call('PUBLISH', ARGV[1], n .. ' ' .. ARGV[2])
return n
"""
# The same on the shared channel, once per notification whoever asks (the publish of a broadcast
# visible now; prepare-due and every server's timer when a scheduled one becomes visible).
ANNOUNCE_SCRIPT = """
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then return 0 end
local n = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], n .. ' ' .. ARGV[2])
return n
"""
# Events were lost: the shared counter jumps by two, so every subscriber sees a gap and refetches.
GAP_SCRIPT = """
local n = redis.call('INCRBY', KEYS[1], 2)
redis.call('PUBLISH', ARGV[1], n .. ' ' .. ARGV[2])
return n
"""
# A member's counter lives this long after their last event (the shared one forever): a
# connection never lasts that long without an event (tokens expire first).
MEMBER_COUNTER_SECONDS = 30 * 86_400
ANNOUNCED_SECONDS = 2 * 86_400  # an announcement is made once within this
# After a timeout, publishes are skipped this long: a hung broker costs the work nothing.
QUIET_AFTER_FAILURE_SECONDS = 5.0
PIPELINE = 100  # member events per round trip


@dataclass(frozen=True)
class EventChannels:
    """Names on the broker, under a prefix per table (tests and tenants share a broker)."""

    prefix: str

    @classmethod
    def for_table(cls, table: str) -> EventChannels:
        return cls(f"pointclub:{table}:")

    @property
    def shared(self) -> str:
        return f"{self.prefix}all"

    @property
    def shared_counter(self) -> str:
        return f"{self.prefix}seq:all"

    def member(self, user_id: str) -> str:
        return f"{self.prefix}m:{user_id}"

    def member_counter(self, user_id: str) -> str:
        return f"{self.prefix}seq:m:{user_id}"

    @property
    def upcoming(self) -> str:
        """Broadcasts published ahead of their visibleFrom (no counter: servers set timers)."""
        return f"{self.prefix}soon"

    def announced(self, notification_id: str) -> str:
        return f"{self.prefix}shown:{notification_id}"

    def member_of(self, channel: str) -> str | None:
        member = f"{self.prefix}m:"
        return channel[len(member) :] if channel.startswith(member) else None


def connect(url: str, *, timeout: float, retries: int = 0) -> Redis:
    """A client that fails fast: a broker that does not answer is a lost event, not a stall.
    No retries by default: a publish sent again after a lost reply would be told twice, and a
    pub/sub connection that reconnects by itself would hide the messages it missed."""
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), retries),
        health_check_interval=0,
    )


class NoEvents:
    """No broker configured: nothing is published (and no server can subscribe)."""

    async def to_members(self, user_ids: Sequence[str], change: InboxChange) -> None:
        return None

    async def to_everyone(self, change: InboxChange) -> None:
        return None

    async def announce(self, notification_id: str) -> None:
        return None

    async def upcoming(self, notification_id: str, visible_from: datetime) -> None:
        return None


class RedisEvents:
    """Publishes on a broker; a failure is logged, never raised to the caller, and
    the next publish that gets through first tells every subscriber that events were lost."""

    def __init__(self, client: Redis, channels: EventChannels) -> None:
        self._client = client
        self._channels = channels
        self._publish = client.register_script(PUBLISH_SCRIPT)
        self._announce = client.register_script(ANNOUNCE_SCRIPT)
        self._gap = client.register_script(GAP_SCRIPT)
        self._quiet_until = 0.0
        self._lost = False

    async def to_members(self, user_ids: Sequence[str], change: InboxChange) -> None:
        if not user_ids:
            return
        payload = change.encode()

        async def publish() -> None:
            for start in range(0, len(user_ids), PIPELINE):
                chunk = user_ids[start : start + PIPELINE]
                async with self._client.pipeline(transaction=False) as pipe:
                    for user_id in chunk:
                        channel = self._channels.member(user_id)
                        await self._publish(
                            keys=[self._channels.member_counter(user_id)],
                            args=[channel, payload, MEMBER_COUNTER_SECONDS],
                            client=pipe,
                        )
                    await pipe.execute()

        await self._guarded(change, len(user_ids), publish)

    async def to_everyone(self, change: InboxChange) -> None:
        async def publish() -> None:
            await self._publish(
                keys=[self._channels.shared_counter],
                args=[self._channels.shared, change.encode(), 0],
            )

        await self._guarded(change, 1, publish)

    async def announce(self, notification_id: str) -> None:
        change = new_item(notification_id)

        async def publish() -> None:
            keys = [self._channels.shared_counter, self._channels.announced(notification_id)]
            args: list[str | bytes | int] = [
                self._channels.shared,
                change.encode(),
                ANNOUNCED_SECONDS,
            ]
            await self._announce(keys=keys, args=args)

        await self._guarded(change, 1, publish)

    async def upcoming(self, notification_id: str, visible_from: datetime) -> None:
        at = int(visible_from.timestamp() * 1000)

        async def publish() -> None:
            await self._client.publish(self._channels.upcoming, f"{notification_id} {at}")

        await self._guarded(new_item(notification_id), 0, publish)

    async def _guarded(
        self, change: InboxChange, count: int, publish: Callable[[], Awaitable[None]]
    ) -> None:
        with tracer.trace("events.publish", resource=change.kind.value, span_type="worker") as span:
            span.set_metric("events.members", count)
            if time.monotonic() < self._quiet_until:
                self._lost = True
                return
            try:
                if self._lost:
                    await self._gap(
                        keys=[self._channels.shared_counter],
                        args=[self._channels.shared, InboxChange(ChangeKind.GAP).encode()],
                    )
                    self._lost = False
                    log.info("events.gap_published")
                await publish()
            except (RedisError, OSError) as error:
                self._failed(count, change, error)

    def _failed(self, count: int, change: InboxChange, error: BaseException) -> None:
        self._lost = True
        if isinstance(error, RedisTimeoutError | TimeoutError):
            # A broker that hangs would cost every publish its timeout: skip a while. A refused
            # connection costs nothing, so the next publish tries again (and finds it back).
            self._quiet_until = time.monotonic() + QUIET_AFTER_FAILURE_SECONDS
        log.warning(
            "events.publish_failed",
            kind=change.kind.value,
            events=count,
            error=type(error).__name__,
            detail=str(error)[:200],
        )

    async def close(self) -> None:
        """A job about to exit tells subscribers of the events it lost (once, if it can)."""
        if self._lost and time.monotonic() >= self._quiet_until:
            with contextlib.suppress(RedisError, OSError):
                await self._gap(
                    keys=[self._channels.shared_counter],
                    args=[self._channels.shared, InboxChange(ChangeKind.GAP).encode()],
                )
        await closed(self._client.aclose)


CLOSE_SECONDS = 2.0


async def closed(close: Callable[[], Awaitable[object]]) -> None:
    """Close a broker connection, giving up after ``CLOSE_SECONDS``: redis-py's close can wait
    for the socket forever (redis/redis-py#3941), and a stopping server must stop."""
    with contextlib.suppress(Exception):  # TimeoutError, RedisError, OSError: it is going anyway
        async with asyncio.timeout(CLOSE_SECONDS):
            await close()
