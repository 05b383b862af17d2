"""Inbox events on Redis (or Valkey) pub/sub: the publishing side, for servers and batch jobs.

Each publish is one Lua script: the counter moves and the message goes out in one atomic step,
so every subscriber receives a channel's messages in counter order whatever the number of
publishers (``core/domain/events.py``). The member's own changes go on ``<prefix>m:<user>``,
a change for everyone (a broadcast, a recall, an amend) once on ``<prefix>all``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.domain.events import InboxChange
from core.observability.spans import tracer

log = structlog.get_logger("pointclub.events")

# INCR, refresh the member counter's lifetime, PUBLISH "<n> <change>"; returns n.
PUBLISH_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
redis.call('PUBLISH', ARGV[1], n .. ' ' .. ARGV[2])
return n
"""
# A member's counter lives this long after their last event (the shared one forever): a
# connection never lasts that long without an event (tokens expire first).
MEMBER_COUNTER_SECONDS = 30 * 86_400
QUIET_AFTER_FAILURE_SECONDS = (
    5.0  # publishes skipped after a failure, so a dead broker costs nothing
)
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

    def member_of(self, channel: str) -> str | None:
        member = f"{self.prefix}m:"
        return channel[len(member) :] if channel.startswith(member) else None


def connect(url: str, *, timeout: float) -> Redis:
    """A client that fails fast: a broker that does not answer is a lost event, not a stall."""
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        # Once more at once on a broken connection (a broker restarted since the last call).
        retry=Retry(NoBackoff(), 1),
        health_check_interval=0,
    )


class NoEvents:
    """No broker configured: nothing is published (and no server can subscribe)."""

    async def to_members(self, user_ids: Sequence[str], change: InboxChange) -> None:
        return None

    async def to_everyone(self, change: InboxChange) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisEvents:
    """Publishes on a broker; a failure is logged and counted, never raised to the caller."""

    def __init__(self, client: Redis, channels: EventChannels) -> None:
        self._client = client
        self._channels = channels
        self._script = client.register_script(PUBLISH_SCRIPT)
        self._quiet_until = 0.0
        self.published = 0
        self.dropped = 0

    async def to_members(self, user_ids: Sequence[str], change: InboxChange) -> None:
        if not user_ids:
            return
        payload = change.encode()
        with tracer.trace("events.publish", resource=change.kind.value, span_type="worker") as span:
            span.set_metric("events.members", len(user_ids))
            if not self._ready(len(user_ids)):
                return
            try:
                for start in range(0, len(user_ids), PIPELINE):
                    chunk = user_ids[start : start + PIPELINE]
                    async with self._client.pipeline(transaction=False) as pipe:
                        for user_id in chunk:
                            await self._script(
                                keys=[self._channels.member_counter(user_id)],
                                args=[
                                    self._channels.member(user_id),
                                    payload,
                                    MEMBER_COUNTER_SECONDS,
                                ],
                                client=pipe,
                            )
                        await pipe.execute()
                    self.published += len(chunk)
            except (RedisError, OSError) as error:
                self._failed(len(user_ids), change, error)

    async def to_everyone(self, change: InboxChange) -> None:
        with tracer.trace("events.publish", resource=change.kind.value, span_type="worker") as span:
            span.set_tag("events.audience", "all")
            if not self._ready(1):
                return
            try:
                await self._script(
                    keys=[self._channels.shared_counter],
                    args=[self._channels.shared, change.encode(), 0],
                )
                self.published += 1
            except (RedisError, OSError) as error:
                self._failed(1, change, error)

    def _ready(self, count: int) -> bool:
        if time.monotonic() < self._quiet_until:
            self.dropped += count
            return False
        return True

    def _failed(self, count: int, change: InboxChange, error: BaseException) -> None:
        self.dropped += count
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
            quiet_seconds=QUIET_AFTER_FAILURE_SECONDS,
        )

    async def close(self) -> None:
        await self._client.aclose()
