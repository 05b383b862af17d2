"""``ranks evaluate``: every member's rank for a month, from the six months before it.

Safe to rerun and to kill: members already evaluated for the month are skipped, and a rank
notice has an id derived from the member and month, so it is created and delivered once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.domain.notices import rank_notice
from core.domain.pointclub import ClubRecord, RankTable, qualifying_for_evaluation
from core.domain.time import month_start
from core.errors import Conflict, InvalidInput
from core.observability.spans import traced
from core.ports import Clock, LedgerStore, SegmentStore
from core.usecases.audience_walk import for_each_member
from core.usecases.notices import NoticeSender

MAX_RETRIES = 20  # saves of a member's club record lost to concurrent writes


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
        members: SegmentStore,
        store: LedgerStore,
        ranks: RankTable,
        notices: NoticeSender,
        clock: Clock,
    ) -> None:
        self._clock = clock
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
        await for_each_member(
            self._members,
            "ranks.evaluate_page",
            lambda user_id: self._evaluate(user_id, month, notify, report, run_id),
            progress,
        )
        return report

    async def _evaluate(
        self, user_id: str, month: str, notify: bool, report: EvaluationReport, run_id: str
    ) -> None:
        for _ in range(MAX_RETRIES):
            record, version = await self._store.club_for_update(user_id)
            # A rank holds from the start of its month, or from now when evaluated late: a
            # rank history is never rewritten backwards (broadcasts ask who held a rank when).
            since = max(month_start(month), self._clock.now())
            current = record or ClubRecord.joined(self._ranks.base.code, since)
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
            evaluated = current.with_rank(
                new_rank,
                since,
                rank_month=month,
                previous_rank=before,
                evaluation_run=run_id,
            )
            try:
                await self._store.save_club(
                    user_id, evaluated, version, rank_was=record.rank_code if record else None
                )
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
