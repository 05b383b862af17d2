"""The point-club read model: status (one item) and history (a page of the ledger)."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime

from core.domain.audience import check_member_id
from core.domain.club_status import club_status
from core.domain.missions import MISSION_ID, Mission, MissionProgress
from core.domain.pointclub import (
    LEDGER_POSITION_PATTERN,
    LedgerEntry,
    RankTable,
)
from core.domain.time import ISO_KEY_PATTERN, iso_key
from core.observability.spans import traced
from core.ports import LiveListReader, MemberReader
from core.queries.cursors import check_first, decode_cursor, encode_cursor
from core.queries.views import (
    MissionPageView,
    MissionView,
    PointClubView,
    PointEntryView,
    PointHistoryView,
    PointUseView,
)


class PointClubQueries:
    def __init__(
        self,
        *,
        members: MemberReader,
        live: LiveListReader,
        ranks: RankTable,
        default_locale: str,
    ) -> None:
        self._members = members
        self._live = live
        self._ranks = ranks
        self._default_locale = default_locale

    @traced
    async def status(self, user_id: str, locales: tuple[str, ...], now: datetime) -> PointClubView:
        check_member_id(user_id, "userId")
        status = club_status(await self._members.club(user_id), self._ranks, now)
        return PointClubView(user_id, status, locales, self._default_locale)

    @traced
    async def history(self, user_id: str, *, first: int, after: str | None) -> PointHistoryView:
        check_first(first)
        position = None if after is None else decode_cursor(after, pattern=LEDGER_POSITION_PATTERN)
        page = await self._members.ledger_page(user_id, position, first + 1)
        entries = list(page.entries)
        has_next = len(entries) > first
        views = tuple(_entry_view(entry) for entry in entries[:first])
        return PointHistoryView(
            entries=views,
            has_next_page=has_next,
            end_cursor=views[-1].cursor if views else None,
        )

    @traced
    async def missions(
        self,
        user_id: str,
        *,
        first: int,
        after: str | None,
        locales: tuple[str, ...],
        now: datetime,
    ) -> MissionPageView:
        """The missions running now, soonest end first, with the member's progress: the
        live list and the progress item, both read with the home screen's first round."""
        check_first(first)
        position = None if after is None else decode_cursor(after, pattern=MISSION_POSITION)
        live, member = await asyncio.gather(
            self._live.live_for(user_id), self._members.missions(user_id)
        )
        running = [
            m
            for m in live.missions
            if m.is_open(now) and (position is None or _position(m) > position)
        ]
        views = tuple(
            _mission_view(m, member.of(m.mission_id), locales, self._default_locale)
            for m in running[:first]
        )
        return MissionPageView(
            missions=views,
            has_next_page=len(running) > first,
            end_cursor=views[-1].cursor if views else None,
        )


def _entry_view(entry: LedgerEntry) -> PointEntryView:
    return PointEntryView(
        id=entry.entry_id,
        kind=entry.kind,
        amount=entry.amount,
        occurred_at=entry.occurred_at,
        description=entry.description,
        cursor=encode_cursor(entry.position),
        point_kind=entry.added_kind if entry.adds else entry.point_kind,
        expires_at=entry.expires_at,
        available_at=entry.available_at,
        consumed=tuple(
            PointUseView(use.lot_id, use.kind, use.amount, use.expires_at) for use in entry.consumed
        ),
    )


MISSION_POSITION = re.compile(rf"{ISO_KEY_PATTERN}#{MISSION_ID.pattern}")


def _position(mission: Mission) -> str:
    return f"{iso_key(mission.ends_at)}#{mission.mission_id}"


def _mission_view(
    mission: Mission, progress: MissionProgress, locales: tuple[str, ...], fallback: str
) -> MissionView:
    content = mission.content_for(locales, fallback)
    return MissionView(
        id=mission.mission_id,
        title=content.title,
        body=content.body,
        goal_kind=mission.goal.kind,
        target=mission.goal.target,
        event=mission.goal.event,
        progress=min(progress.progress, mission.goal.target),
        reward=mission.reward,
        reward_valid_days=mission.reward_valid_days,
        starts_at=mission.starts_at,
        ends_at=mission.ends_at,
        completed_at=progress.completed_at,
        cursor=encode_cursor(_position(mission)),
    )
