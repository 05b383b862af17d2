"""Missions: a goal in a period, a reward in points, granted once per member.

A mission advances from what already flows, each happening counted once by the path that carries
it: ``USE_POINTS`` by the points a USED ledger entry (imported, exactly once by entry id) takes in
the period; ``READ_NOTIFICATIONS`` by each read counted in the period (the read counter's exactly
once per member and notification); ``EVENT`` by each event the platform reports with the goal's
event name in the period (exactly once by event id). Reaching the target completes the mission:
its reward is an EARNED ledger entry whose id is derived from the mission and the member.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from core.domain.notification_draft import LOCALE, REQUIRED_LOCALE, LocalizedContent
from core.domain.pointclub import EARLIEST, LATEST, LedgerEntry, PointEntryKind
from core.errors import FieldError

MISSION_ID = re.compile(r"[0-9A-Za-z]{1,40}")
EVENT_NAME = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")
REWARD_PREFIX = "mission-"  # ledger entry ids of rewards; refused in imported files
MAX_TITLE = 80
MAX_BODY = 200
MAX_LOCALES = 3
# Missions listed at once (upcoming, running, or ended less than LISTED_AFTER_END ago): every
# inbox read carries them, so their size is bounded (``tests/unit/test_missions.py``).
MAX_LISTED = 10
# An ended mission stays listed this long: a ledger export or event file that lands late still
# counts what is dated in the period. Then the next createMission or `missions settle` drops it.
LISTED_AFTER_END = timedelta(days=2)
MAX_PERIOD = timedelta(days=366)
MAX_REWARD = 1_000_000
MAX_VALID_DAYS = 3650
MAX_COUNTED_TARGET = 1000  # reads or events: a goal a member can reach


class GoalKind(StrEnum):
    USE_POINTS = "USE_POINTS"
    READ_NOTIFICATIONS = "READ_NOTIFICATIONS"
    EVENT = "EVENT"


@dataclass(frozen=True)
class MissionGoal:
    kind: GoalKind
    target: int  # points used, notifications read, or events reported
    event: str | None = None  # EVENT only: the name the platform reports


@dataclass(frozen=True)
class Mission:
    mission_id: str
    contents: Mapping[str, LocalizedContent]
    goal: MissionGoal
    starts_at: datetime
    ends_at: datetime
    reward: int
    reward_valid_days: int
    created_at: datetime
    created_by: str

    def is_open(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    def content_for(self, locales: tuple[str, ...], fallback: str) -> LocalizedContent:
        """The content in the first of ``locales`` it has, else the fallback, else any."""
        for locale in (*locales, fallback):
            for candidate in (locale, locale.split("-")[0]):
                if candidate in self.contents:
                    return self.contents[candidate]
        return next(iter(self.contents.values()))

    def reward_entry_id(self, user_id: str) -> str:
        return f"{REWARD_PREFIX}{self.mission_id}-{user_id}"

    def reward_entry(self, user_id: str, at: datetime) -> LedgerEntry:
        """The reward as a ledger entry: free points, valid ``reward_valid_days`` from ``at``."""
        return LedgerEntry(
            entry_id=self.reward_entry_id(user_id),
            kind=PointEntryKind.EARNED,
            amount=self.reward,
            occurred_at=at,
            description=f"mission {self.mission_id}",
            expires_at=at + timedelta(days=self.reward_valid_days),
        )


@dataclass(frozen=True)
class MissionProgress:
    """One member's progress in one mission."""

    progress: int = 0
    completed_at: datetime | None = None
    noticed: bool = False  # the completion notice went out


@dataclass(frozen=True)
class MemberMissions:
    """A member's progress item: per mission, and a sequence number every change moves."""

    missions: Mapping[str, MissionProgress] = field(default_factory=dict)
    seq: int = 0

    def of(self, mission_id: str) -> MissionProgress:
        return self.missions.get(mission_id, MissionProgress())


def advances(
    missions: Iterable[Mission],
    kind: GoalKind,
    at: datetime,
    amount: int = 1,
    event: str | None = None,
) -> dict[str, int]:
    """By how much one happening of ``kind`` at ``at`` advances each mission it counts for."""
    return {
        mission.mission_id: amount
        for mission in missions
        if mission.goal.kind is kind
        and mission.is_open(at)
        and (kind is not GoalKind.EVENT or mission.goal.event == event)
    }


def merge(into: dict[str, int], more: Mapping[str, int]) -> dict[str, int]:
    for mission_id, amount in more.items():
        into[mission_id] = into.get(mission_id, 0) + amount
    return into


def due(missions: Iterable[Mission], member: MemberMissions) -> list[Mission]:
    """Missions the member reached the target of and has no reward for yet."""
    return [
        mission
        for mission in missions
        if member.of(mission.mission_id).completed_at is None
        and member.of(mission.mission_id).progress >= mission.goal.target
    ]


def check_mission(mission: Mission, now: datetime) -> list[FieldError]:
    """Field-level problems of a new mission, in the order an admin UI shows them."""
    errors: list[FieldError] = []
    if REQUIRED_LOCALE not in mission.contents:
        errors.append(FieldError("contents", "Japanese (ja) content is required"))
    if len(mission.contents) > MAX_LOCALES:
        errors.append(FieldError("contents", f"at most {MAX_LOCALES} locales"))
    for locale, content in mission.contents.items():
        where = f"contents.{locale}"
        if not LOCALE.fullmatch(locale):
            errors.append(FieldError(f"{where}.locale", "not a locale tag like ja or en-US"))
        for name, text, limit in (
            ("title", content.title, MAX_TITLE),
            ("body", content.body, MAX_BODY),
        ):
            if not text.strip():
                errors.append(FieldError(f"{where}.{name}", "must not be empty"))
            elif len(text) > limit:
                errors.append(FieldError(f"{where}.{name}", f"at most {limit} characters"))
    goal = mission.goal
    limit = 10**9 if goal.kind is GoalKind.USE_POINTS else MAX_COUNTED_TARGET
    if not 1 <= goal.target <= limit:
        errors.append(FieldError("goal.target", f"from 1 to {limit:,}"))
    if goal.kind is GoalKind.EVENT:
        if goal.event is None or not EVENT_NAME.fullmatch(goal.event):
            errors.append(
                FieldError("goal.event", "an EVENT goal names its event: a-z, 0-9 and _.:- (64)")
            )
    elif goal.event is not None:
        errors.append(FieldError("goal.event", "only an EVENT goal names an event"))
    if not EARLIEST <= mission.starts_at < LATEST or not EARLIEST <= mission.ends_at < LATEST:
        errors.append(FieldError("startsAt", "the period must be between 2000 and 2100"))
    elif mission.ends_at <= mission.starts_at:
        errors.append(FieldError("endsAt", "must be after startsAt"))
    elif mission.ends_at <= now:
        errors.append(FieldError("endsAt", "must be in the future"))
    elif mission.ends_at - mission.starts_at > MAX_PERIOD:
        errors.append(FieldError("endsAt", "a period of at most 366 days"))
    if not 1 <= mission.reward <= MAX_REWARD:
        errors.append(FieldError("reward", f"from 1 to {MAX_REWARD:,}"))
    if not 1 <= mission.reward_valid_days <= MAX_VALID_DAYS:
        errors.append(FieldError("rewardValidDays", f"from 1 to {MAX_VALID_DAYS:,}"))
    return errors
