"""``prepare-due``: every scheduled notification whose time has come, and interrupted ones.
A scheduled broadcast is published up to the broadcast lead ahead, so it shows at its
visibleFrom whenever the job runs in that window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import structlog

from core.domain.notification import Notification, NotificationState
from core.errors import PointclubError, Unavailable
from core.observability.spans import traced
from core.ports import Clock, InboxEvents, LiveListStore, NotificationStore
from core.usecases.audience_walk import FanoutReport, Progress
from core.usecases.prepare_notification import PrepareNotification

log = structlog.get_logger("pointclub.fanout")
ANNOUNCE_WINDOW = timedelta(minutes=15)  # prepare-due runs every minute: ample


class PrepareDue:
    """Prepare every scheduled notification whose time has come, and resume interrupted ones."""

    def __init__(
        self,
        *,
        queue: NotificationStore,
        prepare: PrepareNotification,
        clock: Clock,
        live: LiveListStore,
        events: InboxEvents,
        broadcast_lead: timedelta = timedelta(0),
    ) -> None:
        self._live = live
        self._events = events
        self._lead = broadcast_lead
        self._queue = queue
        self._prepare = prepare
        self._clock = clock

    async def due(self) -> list[Notification]:
        """Interrupted fan-outs, and scheduled notifications due within the broadcast lead (a
        fan-out among them waits for its visibleFrom)."""
        horizon = self._clock.now() + self._lead
        preparing = [n async for n in self._queue.all_in_state(NotificationState.PREPARING)]
        scheduled = [
            n
            async for n in self._queue.all_in_state(NotificationState.SCHEDULED)
            if n.visible_from is not None and n.visible_from <= horizon
        ]
        return preparing + scheduled

    @traced
    async def run(self, progress_for: Callable[[Notification], Progress | None]) -> DueReport:
        """Each due notification in turn; one that fails (recalled meanwhile, expired, its
        segment gone) is reported and the rest go on. A store that is down stops the run."""
        report = DueReport()
        for notification in await self.due():
            early = notification.visible_from is not None and (
                notification.visible_from > self._clock.now()
            )
            try:
                done = await self._prepare.run(
                    notification.notification_id,
                    progress=progress_for(notification),
                    early=early,
                )
                if not done.skipped:
                    report.prepared.append(done)
            except Unavailable:
                raise
            except PointclubError as error:
                log.warning(
                    "prepare_due.failed",
                    notification_id=notification.notification_id,
                    error=str(error),
                )
                report.failed.append((notification.notification_id, str(error)))
        await self.announce_visible()
        return report

    async def announce_visible(self) -> None:
        """Live events for broadcasts that became visible lately: the servers' timers announce
        them at their visibleFrom; this covers a server restarted since (once per broadcast,
        whoever announces first)."""
        now = self._clock.now()
        listed = await self._live.live_in_shard(0)
        for broadcast in listed.broadcasts:
            if now - ANNOUNCE_WINDOW <= broadcast.visible_from <= now:
                await self._events.announce(broadcast.notification_id)


@dataclass
class DueReport:
    prepared: list[FanoutReport] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (notification id, why)
