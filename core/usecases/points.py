"""Point-club jobs: monthly rank evaluation and expiry warnings (the ledger import is
``ledger_import.py``).

Both are safe to rerun and to kill: an evaluation skips members already evaluated for the month,
and every notice has an id derived from what it is about (the member and month, or the lot), so
it is created and delivered once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from core.domain.audience import AudiencePartition
from core.domain.notification import (
    Audience,
    AudienceKind,
    AuditRecord,
    LocalizedContent,
    Notification,
    NotificationState,
    Priority,
)
from core.domain.pointclub import (
    ClubRecord,
    RankTable,
    qualifying_for_evaluation,
)
from core.domain.segment import SegmentKind, SegmentRule
from core.domain.time import JST, month_end, month_start
from core.errors import Conflict, InvalidInput
from core.observability.spans import chunk_span, traced
from core.ports import Clock
from core.usecases.prepare_notification import PrepareNotification

log = structlog.get_logger("pointclub.points")
CHUNK_LINES = 400
CONCURRENCY = 16
MAX_RETRIES = 20


class ClubStore(Protocol):
    async def club_for_update(self, user_id: str) -> tuple[ClubRecord | None, int]: ...

    async def save_club(self, user_id: str, record: ClubRecord, version: int) -> None: ...


class MemberSource(Protocol):
    def partitions(self, rule: SegmentRule, name: str | None) -> list[AudiencePartition]: ...

    def member_pages(
        self, partition: AudiencePartition, after: str | None, page_size: int = 500
    ) -> AsyncIterator[list[str]]: ...


class NoticeStore(Protocol):
    async def put(self, notification: Notification, *, only_if_absent: bool = False) -> bool: ...


@dataclass
class EvaluationReport:
    month: str
    evaluated: int = 0
    already: int = 0
    changed: int = 0
    notified: int = 0


class EvaluateRanks:
    """Set every member's rank for a month from the six months before it."""

    def __init__(
        self,
        *,
        members: MemberSource,
        store: ClubStore,
        ranks: RankTable,
        notices: NoticeSender,
    ) -> None:
        self._members = members
        self._store = store
        self._ranks = ranks
        self._notices = notices

    @traced
    async def run(
        self, month: str, *, notify: bool, progress: Callable[[int], None] | None = None
    ) -> EvaluationReport:
        check_month(month)
        report = EvaluationReport(month)
        run_id = uuid.uuid4().hex
        limit = asyncio.Semaphore(CONCURRENCY)
        walked = 0

        async def one(user_id: str) -> None:
            async with limit:
                await self._evaluate(user_id, month, notify, report, run_id)

        for partition in self._members.partitions(SegmentRule(SegmentKind.ALL_MEMBERS), None):
            async for page in self._members.member_pages(partition, None):
                with chunk_span("ranks.evaluate_page", partition.key):
                    await asyncio.gather(*(one(uid) for uid in page))
                walked += len(page)
                if progress is not None:
                    progress(walked)
        return report

    async def _evaluate(
        self, user_id: str, month: str, notify: bool, report: EvaluationReport, run_id: str
    ) -> None:
        for _ in range(MAX_RETRIES):
            record, version = await self._store.club_for_update(user_id)
            current = record or ClubRecord(rank_code=self._ranks.base.code)
            if current.rank_month is not None and current.rank_month >= month:
                if current.evaluation_run == run_id:
                    return  # moved into a partition walked later in this run: seen already
                report.already += 1
                if current.rank_month > month:
                    return  # a later month was evaluated: nothing to announce for this one
                new_rank, before = current.rank_code, current.previous_rank
                break
            before = current.rank_code or self._ranks.base.code
            new_rank = self._ranks.for_points(qualifying_for_evaluation(current, month)).code
            evaluated = replace(
                current,
                rank_code=new_rank,
                rank_month=month,
                previous_rank=before,
                evaluation_run=run_id,
            )
            try:
                await self._store.save_club(user_id, evaluated, version)
            except Conflict:
                continue
            report.evaluated += 1
            if before != new_rank:
                report.changed += 1
            break
        else:
            raise Conflict(f"member {user_id}'s status kept changing")
        # On a rerun the notice is sent again only if it never went out (its id is fixed).
        if notify and before is not None and new_rank is not None and before != new_rank:
            notice = rank_notice(user_id, month, self._ranks, before, new_rank)
            if await self._notices.send(notice):
                report.notified += 1


def check_month(month: str) -> None:
    try:
        datetime.strptime(month, "%Y-%m")
    except ValueError as error:
        raise InvalidInput("use YYYY-MM", field="month") from error


class NoticeSender:
    """Creates a one-member notification unless it exists, and delivers it through the fan-out."""

    def __init__(self, *, store: NoticeStore, prepare: PrepareNotification) -> None:
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


def rank_notice(
    user_id: str, month: str, ranks: RankTable, before: str, after: str
) -> Notification:
    old, new = ranks.get(before), ranks.get(after)
    up = new.threshold > old.threshold
    start = month_start(month)
    ja_title = (
        f"{new.names.get('ja', new.code)}ランクになりました" if up else "ランクが変わりました"
    )
    en_title = f"You are now {new.names.get('en', new.code)}" if up else "Your rank has changed"
    rate = f"{new.point_back_rate * 100:g}%"
    return _notice(
        f"rank-{month}-{user_id}",
        user_id,
        "rank",
        {
            "ja": LocalizedContent(
                ja_title,
                f"{month}の会員ランクは{new.names.get('ja', new.code)}です。"
                f"ポイント還元率は{rate}です。",
            ),
            "en": LocalizedContent(
                en_title,
                f"Your rank for {month} is {new.names.get('en', new.code)}, "
                f"with {rate} back in points.",
            ),
        },
        visible_from=start,
        expires_at=month_end(month) + timedelta(seconds=1),
    )


@dataclass
class ExpiryReport:
    members: int = 0
    notices: int = 0
    already: int = 0


class NotifyExpiring:
    """One notice per member and lot that expires within a window, never twice for a lot."""

    def __init__(
        self, *, members: MemberSource, store: ClubStore, notices: NoticeSender, clock: Clock
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
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(user_id: str) -> None:
            async with limit:
                record, _ = await self._store.club_for_update(user_id)
                for lot in record.lots if record else ():
                    if lot.amount > 0 and now < lot.expires_at <= now + within:
                        notice = expiry_notice(user_id, lot.lot_id, lot.amount, lot.expires_at, now)
                        if await self._notices.send(notice):
                            report.notices += 1
                        else:
                            report.already += 1

        for partition in self._members.partitions(SegmentRule(SegmentKind.ALL_MEMBERS), None):
            async for page in self._members.member_pages(partition, None):
                with chunk_span("points.expiring_page", partition.key):
                    await asyncio.gather(*(one(uid) for uid in page))
                report.members += len(page)
                if progress is not None:
                    progress(report.members)
        return report


def expiry_notice(
    user_id: str, lot_id: str, amount: int, expires_at: datetime, now: datetime
) -> Notification:
    local = expires_at.astimezone(JST)
    return _notice(
        f"expiring-{user_id}-{lot_id}",
        user_id,
        "point",
        {
            "ja": LocalizedContent(
                "まもなくポイントが失効します",
                f"{amount:,}ポイントが{local:%Y年%m月%d日 %H:%M}に失効します。",
            ),
            "en": LocalizedContent(
                "Points expire soon",
                f"{amount:,} points expire on {local:%Y-%m-%d %H:%M} (JST).",
            ),
        },
        visible_from=now,
        expires_at=expires_at,
    )


def _notice(
    notification_id: str,
    user_id: str,
    category: str,
    contents: dict[str, LocalizedContent],
    *,
    visible_from: datetime,
    expires_at: datetime,
) -> Notification:
    return Notification(
        notification_id=notification_id,
        state=NotificationState.DRAFT,
        category=category,
        priority=Priority.NORMAL,
        contents=contents,
        audience=Audience(AudienceKind.USER, user_id=user_id),
        created_at=visible_from,
        created_by="batch",
        visible_from=visible_from,
        expires_at=expires_at,
        audit=(AuditRecord(visible_from, "batch", "create", f"{category} notice"),),
    )
