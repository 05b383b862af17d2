"""``recall-cleanup``: after a recall, the members' entries and markers go, then the recall.

The recall took effect at once through the recall list; this only frees the space, and can run
any time, any number of times.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.domain.notification import Notification, NotificationState
from core.errors import Conflict, NotFound
from core.observability.spans import traced
from core.ports import Clock, FanoutStore, LiveListStore, NotificationStore
from core.usecases.audience_walk import Progress

RECALLED_BROADCAST_KEPT = timedelta(days=30)


def _recalled_at(notification: Notification) -> datetime:
    recalls = [record.at for record in notification.audit if record.action == "recall"]
    return recalls[-1] if recalls else notification.created_at


class CleanupRecalled:
    """After a recall, remove the members' entries and markers, then forget the recall.

    The recall took effect at once through the recall list; this only frees the space, and can
    run any time, any number of times.
    """

    def __init__(
        self,
        *,
        notifications: NotificationStore,
        fanout: FanoutStore,
        live: LiveListStore,
        clock: Clock,
    ) -> None:
        self._clock = clock
        self._notifications = notifications
        self._fanout = fanout
        self._live = live

    @traced
    async def run(self, notification_id: str, progress: Progress | None = None) -> int:
        notification = await self._notifications.get(notification_id)
        if notification is None:
            raise NotFound(f"no notification {notification_id}")
        if notification.state is not NotificationState.RECALLED:
            raise Conflict("only a recalled notification is cleaned up")
        if notification.broadcast_reach is not None:
            # A broadcast has no deliveries to remove; its id stays among the recalled for a
            # while, so members' next writes shed their records of it (docs/ARCHITECTURE.md).
            if self._clock.now() - _recalled_at(notification) >= RECALLED_BROADCAST_KEPT:
                await self._live.remove(notification_id)
            return 0
        if notification.visible_from is None:  # never prepared: no entries to remove
            await self._live.remove(notification_id)
            return 0
        # Exactly the members the delivery log names: every delivery wrote one in the same
        # transaction, none can commit after the recall, and the audience may have changed.
        entry = notification.entry(notification.created_at)

        def removed_so_far(count: int) -> None:
            if progress is not None:
                progress(count, count)

        removed = await self._fanout.remove_delivered(notification_id, entry, removed_so_far)
        await self._live.remove(notification_id)
        return removed

    async def pending(self) -> list[str]:
        """Recalled notifications not cleaned up yet: the ids still on the recall list (every
        copy holds all of them), so a notification cleaned once is never walked again."""
        return sorted((await self._live.live_in_shard(0)).recalled)
