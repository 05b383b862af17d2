"""``points notify-expiring``: one notice per member and lot that expires within a window.

A notice's id is derived from the member and the lot, so a rerun never sends one twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain.notices import expiry_notice
from core.observability.spans import traced
from core.ports import Clock, LedgerStore, SegmentStore
from core.usecases.audience_walk import for_each_member
from core.usecases.notices import NoticeSender


@dataclass
class ExpiryReport:
    members: int = 0
    notices: int = 0
    already: int = 0


class NotifyExpiring:
    """One notice per member and lot that expires within a window, never twice for a lot."""

    def __init__(
        self, *, members: SegmentStore, store: LedgerStore, notices: NoticeSender, clock: Clock
    ) -> None:
        self._members = members
        self._store = store
        self._notices = notices
        self._clock = clock

    @traced
    async def run(
        self, within: timedelta, progress: Callable[[int], None] | None = None
    ) -> ExpiryReport:
        now = self._clock.now()
        report = ExpiryReport()

        async def visit(user_id: str) -> None:
            await self._member(user_id, now, within, report)

        report.members = await for_each_member(
            self._members, "points.expiring_page", visit, progress
        )
        return report

    async def _member(
        self, user_id: str, now: datetime, within: timedelta, report: ExpiryReport
    ) -> None:
        record, _ = await self._store.club_for_update(user_id)
        for lot in record.lots if record else ():
            # A pending lot is not announced: the member cannot spend it yet (nor sees it in
            # `expiring`); it is, on a later run, once it is spendable and still expiring soon.
            if lot.spendable_at(now) and lot.expires_at <= now + within:
                notice = expiry_notice(user_id, lot.lot_id, lot.amount, lot.expires_at, now)
                if await self._notices.send(notice):
                    report.notices += 1
                else:
                    report.already += 1
