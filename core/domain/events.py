"""Inbox events: what changed in what a member sees, as the broker carries it.

A change names its kind and the notifications it is about; it carries no count and no content.
The server that holds a member's subscription reads both from the store when it delivers the
event, in that member's locale, so a count is never computed from another process's guess.

On the broker a message is ``<n> <json>``: ``n`` is the counter that the publish moved (the
member's own counter on their channel, the shared one on the channel every server listens to),
set and published in one atomic step, so messages arrive in counter order (``docs/ARCHITECTURE.md``,
"Live events").
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import orjson

from core.domain.inbox import check_notification_id
from core.errors import InvalidInput

MAX_EVENT_IDS = 100  # as many as one mutation may name
MAX_MESSAGE_BYTES = 16 * 1024


class ChangeKind(StrEnum):
    NEW_ITEM = "NEW_ITEM"  # delivered to the member, or a broadcast published
    READ = "READ"
    UNREAD = "UNREAD"
    ARCHIVED = "ARCHIVED"
    ALL_READ = "ALL_READ"
    RECALLED = "RECALLED"
    AMENDED = "AMENDED"
    GAP = "GAP"  # a publisher lost events: every subscriber's sequence jumps (refetch)


@dataclass(frozen=True)
class InboxChange:
    kind: ChangeKind
    ids: tuple[str, ...] = ()
    # ALL_READ: the categories it covered; None: every category.
    categories: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.ids) > MAX_EVENT_IDS:
            raise ValueError(f"an event names at most {MAX_EVENT_IDS} notifications")

    def encode(self) -> bytes:
        body: dict[str, object] = {"k": self.kind.value, "ids": list(self.ids)}
        if self.categories is not None:
            body["c"] = list(self.categories)
        return orjson.dumps(body)

    @classmethod
    def decode(cls, data: bytes | str) -> InboxChange:
        """A change as published; ``InvalidInput`` for anything else (a broker is shared: another
        writer, or a newer version, may put there what this one does not know)."""
        try:
            body = orjson.loads(data)
            kind = ChangeKind(body["k"])
            ids = body.get("ids", [])
            categories = body.get("c")
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise ValueError("ids")
            if categories is not None and not (
                isinstance(categories, list) and all(isinstance(c, str) for c in categories)
            ):
                raise ValueError("categories")
            for nid in ids:
                check_notification_id(nid, "id")
            return cls(kind, tuple(ids), None if categories is None else tuple(categories))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, InvalidInput) as error:
            raise InvalidInput(f"not an inbox event: {error}") from error


@dataclass(frozen=True)
class CountedChange:
    """A change as it arrived: the counter value its publish set, and when it arrived here
    (``time.monotonic()``: reads made after it see the change)."""

    counter: int
    change: InboxChange
    arrived: float = field(default=0.0, compare=False)

    @classmethod
    def parse(cls, message: bytes, arrived: float = 0.0) -> CountedChange:
        if len(message) > MAX_MESSAGE_BYTES:
            raise InvalidInput("an inbox event is too large")
        head, _, body = message.partition(b" ")
        try:
            counter = int(head)
        except ValueError as error:
            raise InvalidInput("an inbox event without its counter") from error
        return cls(counter, InboxChange.decode(body), arrived)


class EventSequence:
    """A subscriber's sequence number: the member's counter plus the shared counter.

    Every event moves exactly one of the two by one, so the sum moves by one per event the
    member is sent; the client sees a gap (a sum that is not the last one plus one) when an
    event was lost, a publisher lost some (GAP: the shared counter jumps by two), or the broker
    forgot its counters (the sum goes down). Until a counter's first event arrives, messages
    it already counted in the baseline (published while the baseline was read) are dropped;
    after that every message is taken as it comes, a counter that went back included."""

    def __init__(self, member: int, shared: int) -> None:
        self.member = member
        self.shared = shared
        self._member_started = False
        self._shared_started = False

    @property
    def value(self) -> int:
        return self.member + self.shared

    def advance(self, *, shared: bool, counter: int) -> bool:
        """Take an event's counter; False when the baseline already counted it."""
        if shared:
            if not self._shared_started and counter <= self.shared:
                return False
            self.shared, self._shared_started = counter, True
        else:
            if not self._member_started and counter <= self.member:
                return False
            self.member, self._member_started = counter, True
        return True


def read_change(kind: ChangeKind, ids: Sequence[str]) -> InboxChange | None:
    """A read-state change of some notifications; None when none changed."""
    unique = tuple(dict.fromkeys(ids))
    return InboxChange(kind, unique) if unique else None


def new_item(notification_id: str) -> InboxChange:
    return InboxChange(ChangeKind.NEW_ITEM, (notification_id,))


class InboxEventKind(StrEnum):
    """What a subscriber is told: the changes, plus the first event of every subscription and
    the events that change nothing the member sees but their sequence."""

    SYNC = "SYNC"  # the first event: the sequence and count to start from
    NEW_ITEM = "NEW_ITEM"
    READ = "READ"
    UNREAD = "UNREAD"
    ARCHIVED = "ARCHIVED"
    ALL_READ = "ALL_READ"
    RECALLED = "RECALLED"
    AMENDED = "AMENDED"
    UNREAD_COUNT = "UNREAD_COUNT"  # someone else's broadcast or amend: only the count is news


# -- a subscription's feed ------------------------------------------------------------------


class FeedEnded(Exception):
    """Why a subscription ends from the server's side, with the WebSocket close code."""

    code = 1013  # retryable for every graphql-transport-ws client (1011 is fatal in graphql-ws)
    reason = "live events ended, reconnect"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.reason)


class EventsUnavailable(FeedEnded):
    """The broker is down or not configured: retry later (with backoff)."""

    code = 1013
    reason = "live events unavailable, retry later"


class TooSlow(FeedEnded):
    """The client did not read its events as fast as they came."""

    code = 4008
    reason = "too slow: events were dropped, reconnect and refetch"


class ServerStopping(FeedEnded):
    code = 1001
    reason = "server stopping, reconnect"


class Feed:
    """One subscription's events in arrival order, at most ``limit`` waiting."""

    def __init__(self, user_id: str, limit: int) -> None:
        self.user_id = user_id
        self._limit = limit
        self._queue: deque[tuple[bool, CountedChange]] = deque()
        self._wake = asyncio.Event()
        self._ended: FeedEnded | None = None
        self.sequence = EventSequence(0, 0)
        self._on_end: Callable[[FeedEnded], None] | None = None

    def offer(self, shared: bool, item: CountedChange) -> None:
        if self._ended is not None:
            return
        if len(self._queue) >= self._limit:
            self.end(TooSlow())
            return
        self._queue.append((shared, item))
        self._wake.set()

    def end(self, reason: FeedEnded) -> None:
        if self._ended is None:
            self._ended = reason
            self._queue.clear()
            if self._on_end is not None:
                self._on_end(reason)
        self._wake.set()

    def when_ended(self, callback: Callable[[FeedEnded], None]) -> None:
        """Call ``callback`` once when the server ends the feed, at once if it already has (the
        connection closes then, even while its sender is blocked on a client that does not
        read, or while the subscription was still being set up)."""
        self._on_end = callback
        if self._ended is not None:
            callback(self._ended)

    @property
    def ended(self) -> FeedEnded | None:
        return self._ended

    async def next(self) -> tuple[bool, CountedChange]:
        """The next event not already counted in the baseline; raises why the feed ended."""
        while True:
            if self._ended is not None:
                raise self._ended
            while self._queue:
                shared, item = self._queue.popleft()
                if self.sequence.advance(shared=shared, counter=item.counter):
                    return shared, item
            self._wake.clear()
            await self._wake.wait()
