"""The public schema's reads: ``Query.viewer`` and what hangs off it (the inbox, one item, the
unread count, the point club with its history). Each field is declared once, here, and calls a
core query through the request's scope."""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.queries.cursors import DEFAULT_PAGE
from core.queries.inbox import InboxFilterSpec
from core.queries.views import PointClubView
from resolvers.context import Context
from resolvers.permissions import IsMember
from schema.public import (
    InboxConnection,
    InboxFilter,
    InboxItem,
    PointExpiry,
    PointHistoryConnection,
    Rank,
)


@strawberry.type(description="The viewer's point-club status.")
class PointClubStatus:
    user_id: strawberry.Private[str]
    balance: int
    expiring: list[PointExpiry] = strawberry.field(description="Future expiries, soonest first.")
    rank: Rank
    next_rank: Rank | None = strawberry.field(description="Null at the top rank.")
    qualifying_points: int = strawberry.field(
        description="Points used in the current window (this JST month and the five before)."
    )
    points_to_next_rank: int | None = strawberry.field(description="Null at the top rank.")
    rank_valid_until: datetime

    @strawberry.field(description="Point ledger, newest first.")
    async def history(
        self, info: strawberry.Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> PointHistoryConnection:
        view = await info.context.scope.point_club.history(
            self.user_id, first=DEFAULT_PAGE if first is None else first, after=after
        )
        return PointHistoryConnection.from_view(view)

    @classmethod
    def from_view(cls, view: PointClubView) -> PointClubStatus:
        return cls(
            user_id=view.user_id,
            balance=view.balance,
            expiring=[PointExpiry(amount=e.amount, expires_at=e.expires_at) for e in view.expiring],
            rank=Rank.from_view(view.rank),
            next_rank=None if view.next_rank is None else Rank.from_view(view.next_rank),
            qualifying_points=view.qualifying_points,
            points_to_next_rank=view.points_to_next_rank,
            rank_valid_until=view.rank_valid_until,
        )


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
