"""The point-club read model: status (one item) and history (a page of the ledger)."""

from __future__ import annotations

from datetime import datetime

from core.domain.audience import check_member_id
from core.domain.pointclub import LEDGER_POSITION_PATTERN, Rank, RankTable, club_status
from core.observability.spans import traced
from core.ports import MemberReader
from core.queries.cursors import check_first, decode_cursor, encode_cursor
from core.queries.views import (
    PointClubView,
    PointEntryView,
    PointExpiryView,
    PointHistoryView,
    RankView,
)


class PointClubQueries:
    def __init__(self, *, members: MemberReader, ranks: RankTable, default_locale: str) -> None:
        self._members = members
        self._ranks = ranks
        self._default_locale = default_locale

    @traced
    async def status(self, user_id: str, locales: tuple[str, ...], now: datetime) -> PointClubView:
        check_member_id(user_id, "userId")
        status = club_status(await self._members.club(user_id), self._ranks, now)
        return PointClubView(
            user_id=user_id,
            balance=status.balance,
            expiring=tuple(PointExpiryView(e.amount, e.expires_at) for e in status.expiring),
            rank=self._rank_view(status.rank, locales),
            next_rank=None
            if status.next_rank is None
            else self._rank_view(status.next_rank, locales),
            qualifying_points=status.qualifying_points,
            points_to_next_rank=status.points_to_next_rank,
            rank_valid_until=status.rank_valid_until,
        )

    @traced
    async def history(self, user_id: str, *, first: int, after: str | None) -> PointHistoryView:
        check_first(first)
        position = None if after is None else decode_cursor(after, pattern=LEDGER_POSITION_PATTERN)
        page = await self._members.ledger_page(user_id, position, first + 1)
        entries = list(page.entries)
        has_next = len(entries) > first
        views = tuple(
            PointEntryView(
                id=entry.entry_id,
                kind=entry.kind,
                amount=entry.amount,
                occurred_at=entry.occurred_at,
                description=entry.description,
                cursor=encode_cursor(entry.position),
            )
            for entry in entries[:first]
        )
        return PointHistoryView(
            entries=views,
            has_next_page=has_next,
            end_cursor=views[-1].cursor if views else None,
        )

    def _rank_view(self, rank: Rank, locales: tuple[str, ...]) -> RankView:
        return RankView(
            code=rank.code,
            name=rank.name_for(locales, self._default_locale),
            threshold=rank.threshold,
            point_back_rate=rank.point_back_rate,
        )
