"""Missions: operators create them; a member's completions are settled once, with a notice.

Progress moves where what counts is written (``ImportLedger``, read counting,
``RecordMissionEvents``); settling then grants each mission the member reached: the reward entry
(id ``mission-<mid>-<uid>``), its claim, the club record and the completion mark in one
transaction, so no rerun, stop or concurrent settle grants it twice. The notice goes after the
grant and is marked sent after; a stop in between sends it on the next settle (its id is fixed,
so it is delivered once). A member whose progress moved stays on the due index until a settle
has seen everything, so ``missions settle`` finds what a stopped process left.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import structlog

from core.domain.missions import (
    LISTED_AFTER_END,
    GoalKind,
    Mission,
    MissionGoal,
    check_mission,
    due,
)
from core.domain.notices import mission_notice
from core.domain.notification_draft import IdempotencyClaim, LocalizedContent
from core.domain.pointclub import ClubRecord, RankTable, apply_entry, compact
from core.domain.time import iso_key
from core.errors import Conflict, InvalidInput, ValidationFailed
from core.observability.spans import traced
from core.ports import Clock, IdGenerator, LedgerStore, MissionStore
from core.usecases.authoring import IDEMPOTENCY_WINDOW, MAX_KEY
from core.usecases.notices import NoticeSender

log = structlog.get_logger("pointclub.missions")
MAX_RETRIES = 20


@dataclass(frozen=True)
class MissionDraft:
    contents: Mapping[str, LocalizedContent]
    goal: MissionGoal
    starts_at: datetime
    ends_at: datetime
    reward: int
    reward_valid_days: int

    def fingerprint(self) -> str:
        """What was asked, to tell a replay of a create from another request."""
        goal = self.goal
        said = {
            "contents": {k: [v.title, v.body] for k, v in sorted(self.contents.items())},
            "goal": [goal.kind.value, goal.target, goal.event],
            "period": [iso_key(self.starts_at), iso_key(self.ends_at)],
            "reward": [self.reward, self.reward_valid_days],
        }
        return hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest()


@dataclass
class SettleReport:
    members: int = 0
    completed: int = 0
    noticed: int = 0
    failed: int = 0


class Missions:
    """Create missions; settle members' completions."""

    def __init__(
        self,
        *,
        store: MissionStore,
        ledger: LedgerStore,
        ranks: RankTable,
        notices: NoticeSender,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._ranks = ranks
        self._notices = notices
        self._clock = clock
        self._ids = ids

    @property
    def store(self) -> MissionStore:
        return self._store

    async def listed(self, user_id: str | None = None) -> tuple[Mission, ...]:
        return await self._store.listed(user_id)

    @traced
    async def create(
        self, actor: str, draft: MissionDraft, idempotency_key: str | None = None
    ) -> Mission:
        """A new mission; the same key and input (within 24 hours) return the first one."""
        now = self._clock.now()
        mission = Mission(
            mission_id=self._ids.new_id(),
            contents=dict(draft.contents),
            goal=draft.goal,
            starts_at=draft.starts_at,
            ends_at=draft.ends_at,
            reward=draft.reward,
            reward_valid_days=draft.reward_valid_days,
            created_at=now,
            created_by=actor,
        )
        errors = check_mission(mission, now)
        if errors:
            raise ValidationFailed(errors)
        claim = None
        if idempotency_key is not None:
            if not 1 <= len(idempotency_key) <= MAX_KEY:
                raise InvalidInput(f"1 to {MAX_KEY} characters", field="idempotencyKey")
            claim = IdempotencyClaim(
                actor, idempotency_key, draft.fingerprint(), now + IDEMPOTENCY_WINDOW
            )
        stored = await self._store.create(mission, now, claim)
        replayed = stored.mission_id != mission.mission_id
        log.info("mission.created", mission_id=stored.mission_id, actor=actor, replayed=replayed)
        return stored

    @traced
    async def settle(self, user_id: str, report: SettleReport | None = None) -> SettleReport:
        """Grant what the member reached, send the notices not sent yet, leave the due index."""
        report = report or SettleReport()
        report.members += 1
        listed = {m.mission_id: m for m in await self._store.listed(user_id)}
        for _ in range(MAX_RETRIES):
            member = await self._store.progress(user_id)
            known = dict(listed)
            for mission_id in member.missions.keys() - known.keys():
                mission = await self._store.get(mission_id)  # left the listing since
                if mission is not None:
                    known[mission_id] = mission
            reached = due(known.values(), member)
            for mission in reached:
                report.completed += await self._complete(user_id, mission)
            if reached:
                member = await self._store.progress(user_id)
            for mission_id, progress in member.missions.items():
                mission = known.get(mission_id)
                if mission is None or progress.completed_at is None or progress.noticed:
                    continue
                notice = mission_notice(user_id, mission, progress.completed_at)
                report.noticed += await self._notices.send(notice)
                await self._store.mark_noticed(user_id, mission_id)
            # Progress in a mission past its listing can never move again: it goes. An ended
            # one still listed may yet advance (a late export dated in its period).
            now = self._clock.now()
            forget = [
                mission_id
                for mission_id in member.missions
                if (mission := known.get(mission_id)) is None
                or mission.ends_at + LISTED_AFTER_END <= now
            ]
            if await self._store.settle(user_id, member.seq, forget):
                return report
        raise Conflict(f"member {user_id}'s missions kept changing")

    async def settle_due(self, progress: Callable[[int], None] | None = None) -> SettleReport:
        """Unlist missions ended long enough ago, then settle every member a stopped process
        left on the due index (``missions settle``)."""
        report = SettleReport()
        await self._store.prune(self._clock.now())
        for shard in self._store.due_shards():
            for user_id in await self._store.members_due(shard):
                await self.settle_safely(user_id, report)
                if progress is not None:
                    progress(report.members)
        return report

    async def settle_safely(self, user_id: str, report: SettleReport | None = None) -> None:
        """Settle one member; a failure stays with them (they stay due) and is logged."""
        report = report or SettleReport()
        try:
            await self.settle(user_id, report)
        except Exception as error:
            report.failed += 1
            log.warning("mission.settle_failed", user_id=user_id, error=repr(error))

    async def _complete(self, user_id: str, mission: Mission) -> int:
        for _ in range(MAX_RETRIES):
            record, version = await self._ledger.club_for_update(user_id)
            now = self._clock.now()
            entry = mission.reward_entry(user_id, now)
            base = record or ClubRecord.joined(self._ranks.base.code, now)
            updated, entry = apply_entry(base, entry)  # an EARNED entry: no use order involved
            try:
                granted = await self._store.complete(
                    user_id,
                    mission,
                    entry,
                    compact(updated, now),
                    version,
                    rank_was=record.rank_code if record else None,
                    at=now,
                )
            except Conflict:
                continue  # the club item moved: read it again
            if granted:
                log.info("mission.completed", mission_id=mission.mission_id, user_id=user_id)
            return int(granted)
        raise Conflict(f"member {user_id}'s status kept changing")


__all__ = ["GoalKind", "MissionDraft", "Missions", "SettleReport"]
