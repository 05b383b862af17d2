"""Sending a point-club notice to one member through the normal delivery path, once."""

from __future__ import annotations

from core.domain.notification import Notification
from core.errors import Conflict
from core.ports import NotificationStore
from core.usecases.prepare_notification import PrepareNotification


class NoticeSender:
    """Creates a one-member notification unless it exists, and delivers it through the fan-out."""

    def __init__(self, *, store: NotificationStore, prepare: PrepareNotification) -> None:
        self._store = store
        self._prepare = prepare

    async def send(self, notice: Notification) -> bool:
        """True if this call delivered it (a rerun finds it delivered and says False)."""
        await self._store.put(notice, only_if_absent=True)
        try:
            report = await self._prepare.run(notice.notification_id)
        except Conflict:
            return False  # recalled or expired meanwhile
        return report.delivered > 0
