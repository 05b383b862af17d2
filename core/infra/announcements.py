"""Broadcasts published ahead of their visibleFrom, announced by each server when it comes.

The publish says ``<id> <visibleFrom ms>`` on the upcoming channel; every server sets a timer and,
at that instant, asks the broker to announce it (``RedisEvents.announce``: once, whoever asks
first). ``prepare-due`` announces recent ones too, for servers started after the publish.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from core.domain.inbox import check_notification_id
from core.errors import InvalidInput
from core.infra.events import RedisEvents

log = structlog.get_logger("pointclub.events")

MAX_TIMERS = 1_000  # broadcasts awaiting their visibleFrom (the live list holds at most 2,000)
MAX_TIMER_SECONDS = 86_400.0  # the longest broadcast lead


class Announcements:
    def __init__(self, events: RedisEvents) -> None:
        self._events = events
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._running: set[asyncio.Task[None]] = set()

    def schedule(self, message: str) -> None:
        try:
            nid, at_ms = message.split(" ")
            check_notification_id(nid, "id")
            delay = int(at_ms) / 1000 - time.time()
        except (ValueError, InvalidInput):
            log.warning("events.unreadable", channel="upcoming")
            return
        if not 0 < delay <= MAX_TIMER_SECONDS:
            return
        if nid not in self._timers and len(self._timers) >= MAX_TIMERS:
            return
        if nid in self._timers:
            self._timers[nid].cancel()
        self._timers[nid] = asyncio.get_running_loop().call_later(delay, self._fire, nid)

    def _fire(self, nid: str) -> None:
        self._timers.pop(nid, None)
        task = asyncio.create_task(self._events.announce(nid))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def cancel(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
