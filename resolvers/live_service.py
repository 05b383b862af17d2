"""Per server process, for the live inbox: the event hub, the connections of each member, and
the reads each event makes (``resolvers/live.py`` runs the connections)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from core.bootstrap import Container
from core.domain.events import InboxChange
from core.ports import EventFeeds
from core.queries.live_events import InboxEventView, render_event
from core.settings import Settings
from resolvers.dataloaders import DataLoaders

SHARED_LOADERS_SECONDS = 0.2  # how long renders may share loaders (their caches' lifetime)


class LiveService:
    """Per process: the hub, the connections of each member, and the reads events make."""

    def __init__(self, container: Container, hub: EventFeeds, settings: Settings) -> None:
        self.hub = hub
        self._container = container
        self._reads = asyncio.Semaphore(settings.events_concurrency)
        self._deadline = settings.dynamodb_timeout_seconds
        self._per_member = settings.ws_max_connections_per_member
        self.ping_seconds = settings.ws_ping_seconds
        self._connections: Counter[str] = Counter()
        self._closes: set[asyncio.Task[None]] = set()  # under way: a stopping server waits
        self._shared: tuple[float, DataLoaders] | None = None  # (made at, loaders)

    @property
    def connections(self) -> int:
        return self._connections.total()

    def closing(self, task: asyncio.Task[None]) -> None:
        """A connection's close, under way until ``task`` is done."""
        self._closes.add(task)
        task.add_done_callback(self._closes.discard)

    async def closes_sent(self, seconds: float) -> None:
        """Wait until every close under way has gone out, ``seconds`` at most."""
        if self._closes:
            await asyncio.wait(set(self._closes), timeout=seconds)

    def admit(self, user_id: str) -> bool:
        if self._connections[user_id] >= self._per_member:
            return False
        self._connections[user_id] += 1
        return True

    def release(self, user_id: str) -> None:
        self._connections[user_id] -= 1
        if self._connections[user_id] <= 0:
            del self._connections[user_id]

    async def render(
        self,
        user_id: str,
        change: InboxChange | None,
        seq: int,
        locales: tuple[str, ...],
        arrived: float,
    ) -> InboxEventView:
        """One event as this member sees it now: on loaders made after the event arrived (so
        every read sees its change; a connection lives for hours, and what it read before is
        stale). Renders of events that arrived before the current loaders were made share them
        for a moment: their reads batch together (one BatchGetItem for many members), and a
        broadcast's notification and the live list are read once, not once per subscriber."""
        container = self._container
        async with self._reads, asyncio.timeout(self._deadline):
            loaders = self._loaders(arrived)
            inbox = container.inbox_queries(
                members=loaders.members, notifications=loaders.notifications, live=loaders.live
            )
            return await render_event(
                inbox, user_id, change, seq=seq, locales=locales, now=container.clock.now()
            )

    def _loaders(self, arrived: float) -> DataLoaders:
        now = time.monotonic()
        if self._shared is not None:
            made, loaders = self._shared
            if arrived <= made and now - made <= SHARED_LOADERS_SECONDS:
                return loaders
        container = self._container
        loaders = DataLoaders.create(
            members=container.members,
            notifications=container.notifications,
            live=container.live,
        )
        self._shared = (now, loaders)
        return loaders
