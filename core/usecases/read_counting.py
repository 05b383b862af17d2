"""Work a request starts but does not wait for: counting a member's queued reads.

At most one count runs per member in this process; a request that arrives while it runs asks for
one more pass. Nothing is lost if the process stops first: the reads stay queued in DynamoDB and
the next count (or `pointclub stats count-reads`) takes them.
"""

from __future__ import annotations

import asyncio

import structlog

from core.domain.missions import GoalKind
from core.errors import PointclubError
from core.ports import ReadStats
from core.usecases.missions import Missions

log = structlog.get_logger("pointclub.background")


class ReadCounting:
    """Counts each member's queued reads after the request that queued them, one pass at a time."""

    def __init__(self, stats: ReadStats, missions: Missions | None = None) -> None:
        self._stats = stats
        self._missions = missions
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()

    def use_missions(self, missions: Missions | None) -> None:
        """Reads counted from now on advance READ_NOTIFICATIONS missions (set once built)."""
        self._missions = missions

    def schedule(self, user_id: str) -> None:
        if user_id in self._running:
            self._again.add(user_id)
            return
        self._running[user_id] = asyncio.get_running_loop().create_task(self._run(user_id))

    async def _run(self, user_id: str) -> None:
        try:
            while True:
                self._again.discard(user_id)
                try:
                    await count_reads(self._stats, self._missions, user_id)
                except PointclubError as error:
                    log.warning("read counting failed; reads stay queued", error=str(error))
                    return
                if user_id not in self._again:
                    return
        finally:
            self._running.pop(user_id, None)

    async def drain(self) -> None:
        """Wait for the counts under way (shutdown, tests)."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)


async def count_reads(stats: ReadStats, missions: Missions | None, user_id: str) -> int:
    """Count the member's queued reads, each a read for the READ_NOTIFICATIONS missions open
    now, and settle what that completed."""
    reading = (
        []
        if missions is None
        else [
            m for m in await missions.listed(user_id) if m.goal.kind is GoalKind.READ_NOTIFICATIONS
        ]
    )
    counted = await stats.count_pending_reads(user_id, reading)
    if counted and reading and missions is not None:
        await missions.settle_safely(user_id)
    return counted
