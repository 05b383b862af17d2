"""The public schema's reads: ``Query.viewer`` and what hangs off it (the inbox, one item, the
unread count, the point club with its history). Each field is declared once, here, and calls a
core query through the request's scope."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry

from core.domain.wallet import PointKind
from core.queries.cursors import DEFAULT_PAGE
from core.queries.inbox import InboxFilterSpec
from core.queries.views import PointClubView
from resolvers.context import Context
from resolvers.permissions import IsMember
from schema.missions import MissionConnection
from schema.pointclub import (
    PendingPoints,
    PointBalance,
    PointExpiry,
    PointHistoryConnection,
    Rank,
    RankOutlook,
)
from schema.public import InboxConnection, InboxFilter, InboxItem


@strawberry.type(
    description="The viewer's point-club status: one read of one item, at request time."
)
class PointClubStatus:
    user_id: strawberry.Private[str]
    balance: int = strawberry.field(
        description="Spendable points now, all kinds (pending points not included)."
    )
    balance_by_kind: PointBalance = strawberry.field(description="`balance` by kind of points.")
    next_expiry: PointExpiry | None = strawberry.field(
        description="The soonest expiry of spendable points (all kinds); null if none expire."
    )
    pending: list[PendingPoints] = strawberry.field(
        description="Points earned but not spendable yet, by when they become so, soonest first."
    )
    rank: Rank
    next_rank: Rank | None = strawberry.field(description="Null at the top rank.")
    qualifying_points: int = strawberry.field(
        description="Points used in the current window (this JST month and the five before)."
    )
    points_to_next_rank: int | None = strawberry.field(description="Null at the top rank.")
    rank_valid_until: datetime
    outlook: RankOutlook = strawberry.field(
        description="The next monthly evaluation as things stand: the rank it gives, and what "
        "keeps the current one."
    )
    all_expiring: strawberry.Private[list[PointExpiry]]
    expiring_by_kind: strawberry.Private[dict[PointKind, list[PointExpiry]]]

    @strawberry.field(
        description="Future expiries of spendable points, soonest first: of one kind, or (no "
        "`kind`) of all, each moment once."
    )
    def expiring(self, kind: PointKind | None = None) -> list[PointExpiry]:
        return self.all_expiring if kind is None else self.expiring_by_kind[kind]

    @strawberry.field(description="Point ledger, newest first.")
    async def history(
        self, info: strawberry.Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> PointHistoryConnection:
        view = await info.context.scope.point_club.history(
            self.user_id, first=DEFAULT_PAGE if first is None else first, after=after
        )
        return PointHistoryConnection.from_view(view)

    @strawberry.field(
        description="Missions running now (started, not ended), soonest end first, with the "
        "viewer's progress; completed ones stay until their period ends. `first` is 1..100."
    )
    async def missions(
        self, info: strawberry.Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> MissionConnection:
        context = info.context
        view = await context.scope.point_club.missions(
            self.user_id,
            first=DEFAULT_PAGE if first is None else first,
            after=after,
            locales=context.locales,
            now=context.now,
        )
        return MissionConnection.from_view(view)

    @classmethod
    def from_view(cls, view: PointClubView) -> PointClubStatus:
        """The view itself: it has every field of this type (and ``user_id``, ``all_expiring``
        and ``expiring_by_kind``, which the resolvers above read), each computed when asked for;
        its parts have their types' fields as well (``tests/e2e/test_point_club_fields.py``)."""
        return cast(PointClubStatus, view)


async def point_club_of(context: Context, user_id: str) -> PointClubStatus:
    view = await context.scope.point_club.status(user_id, context.locales, context.now)
    return PointClubStatus.from_view(view)


@strawberry.type(description="The signed-in member.")
class Viewer:
    user_id: strawberry.ID

    @strawberry.field(description="The inbox, newest first. `first` is 1..100.")
    async def inbox(
        self,
        info: strawberry.Info[Context, None],
        first: int | None = 20,
        after: str | None = None,
        filter: InboxFilter | None = None,
    ) -> InboxConnection:
        context = info.context
        spec = InboxFilterSpec()
        if filter is not None:
            spec = InboxFilterSpec(
                categories=None if filter.categories is None else frozenset(filter.categories),
                unread_only=bool(filter.unread_only),
                include_archived=bool(filter.include_archived),
            )
        view = await context.scope.inbox.page(
            str(self.user_id),
            first=DEFAULT_PAGE if first is None else first,
            after=after,
            spec=spec,
            locales=context.locales,
            now=context.now,
        )
        return InboxConnection.from_view(view)

    @strawberry.field(description="One of my notifications; null if it is not mine or not visible.")
    async def notification(
        self, info: strawberry.Info[Context, None], id: strawberry.ID
    ) -> InboxItem | None:
        context = info.context
        view = await context.scope.inbox.item(
            str(self.user_id), str(id), context.locales, context.now
        )
        return None if view is None else InboxItem.from_view(view)

    @strawberry.field(description="Exact number of visible unread notifications.")
    async def unread_count(
        self, info: strawberry.Info[Context, None], categories: list[str] | None = None
    ) -> int:
        context = info.context
        return await context.scope.inbox.unread_count(str(self.user_id), categories, context.now)

    @strawberry.field
    async def point_club(self, info: strawberry.Info[Context, None]) -> PointClubStatus:
        return await point_club_of(info.context, str(self.user_id))


@strawberry.type
class Query:
    @strawberry.field(
        description="The signed-in member; UNAUTHENTICATED without a valid token.",
        permission_classes=[IsMember],
    )
    async def viewer(self, info: strawberry.Info[Context, None]) -> Viewer:
        return Viewer(user_id=strawberry.ID(info.context.member().user_id))
