"""The public (front-end) GraphQL schema: a member's inbox and point-club status.

Types only. Fields that need I/O delegate to ``PublicResolvers`` (implemented in
``resolvers/public.py``), reached through the request context, so this module depends on the core's
read models and nothing else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import strawberry

from core.domain.notification import Priority
from core.domain.pointclub import PointEntryKind
from core.queries.views import (
    InboxItemView,
    InboxPageView,
    PointClubView,
    PointEntryView,
    PointHistoryView,
    RankView,
)

# The core's enums are the GraphQL enums: one list of values, no mapping to keep in step.
strawberry.enum(Priority)
strawberry.enum(PointEntryKind)


class PublicResolvers(Protocol):
    """What the public schema needs from the resolver layer."""

    async def viewer(self, info: strawberry.Info[Any, Any]) -> Viewer: ...

    async def inbox(
        self,
        info: strawberry.Info[Any, Any],
        viewer: Viewer,
        first: int | None,
        after: str | None,
        filter: InboxFilter | None,
    ) -> InboxConnection: ...

    async def notification(
        self, info: strawberry.Info[Any, Any], viewer: Viewer, id: str
    ) -> InboxItem | None: ...

    async def unread_count(
        self, info: strawberry.Info[Any, Any], viewer: Viewer, categories: list[str] | None
    ) -> int: ...

    async def point_club(
        self, info: strawberry.Info[Any, Any], viewer: Viewer
    ) -> PointClubStatus: ...

    async def point_history(
        self,
        info: strawberry.Info[Any, Any],
        status: PointClubStatus,
        first: int | None,
        after: str | None,
    ) -> PointHistoryConnection: ...

    async def mark_notifications_read(
        self, info: strawberry.Info[Any, Any], ids: list[str]
    ) -> ReadStatePayload: ...

    async def mark_notification_unread(
        self, info: strawberry.Info[Any, Any], id: str
    ) -> ReadStatePayload: ...

    async def mark_all_notifications_read(
        self, info: strawberry.Info[Any, Any], categories: list[str] | None
    ) -> ReadStatePayload: ...

    async def archive_notifications(
        self, info: strawberry.Info[Any, Any], ids: list[str]
    ) -> ReadStatePayload: ...


def public_resolvers(info: strawberry.Info[Any, Any]) -> PublicResolvers:
    resolvers: PublicResolvers = info.context.public
    return resolvers


@strawberry.type(description="Pagination state of a connection.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="One notification in the viewer's inbox, in the viewer's locale.")
class InboxItem:
    id: strawberry.ID
    title: str
    body: str
    url: str | None
    image_url: str | None
    category: str
    priority: Priority
    visible_from: datetime
    expires_at: datetime | None
    is_read: bool
    read_at: datetime | None
    archived_at: datetime | None

    @classmethod
    def from_view(cls, view: InboxItemView) -> InboxItem:
        return cls(
            id=strawberry.ID(view.id),
            title=view.title,
            body=view.body,
            url=view.url,
            image_url=view.image_url,
            category=view.category,
            priority=view.priority,
            visible_from=view.visible_from,
            expires_at=view.expires_at,
            is_read=view.is_read,
            read_at=view.read_at,
            archived_at=view.archived_at,
        )


@strawberry.type
class InboxEdge:
    cursor: str
    node: InboxItem


@strawberry.type(description="A page of the inbox, newest first.")
class InboxConnection:
    edges: list[InboxEdge]
    page_info: PageInfo
    unread_count: int = strawberry.field(
        description="Visible unread items of the filter's categories (all categories if none)."
    )

    @classmethod
    def from_view(cls, view: InboxPageView) -> InboxConnection:
        return cls(
            edges=[
                InboxEdge(cursor=item.cursor, node=InboxItem.from_view(item)) for item in view.items
            ],
            page_info=PageInfo(has_next_page=view.has_next_page, end_cursor=view.end_cursor),
            unread_count=view.unread_count,
        )


@strawberry.input
class InboxFilter:
    categories: list[str] | None = None
    unread_only: bool | None = False
    include_archived: bool | None = False


@strawberry.type
class PointExpiry:
    amount: int
    expires_at: datetime


@strawberry.type
class Rank:
    code: str
    name: str
    threshold: int
    point_back_rate: float

    @classmethod
    def from_view(cls, view: RankView) -> Rank:
        return cls(
            code=view.code,
            name=view.name,
            threshold=view.threshold,
            point_back_rate=view.point_back_rate,
        )


@strawberry.type
class PointEntry:
    id: strawberry.ID
    kind: PointEntryKind
    amount: int
    occurred_at: datetime
    description: str | None

    @classmethod
    def from_view(cls, view: PointEntryView) -> PointEntry:
        return cls(
            id=strawberry.ID(view.id),
            kind=view.kind,
            amount=view.amount,
            occurred_at=view.occurred_at,
            description=view.description,
        )


@strawberry.type
class PointHistoryEdge:
    cursor: str
    node: PointEntry


@strawberry.type
class PointHistoryConnection:
    edges: list[PointHistoryEdge]
    page_info: PageInfo

    @classmethod
    def from_view(cls, view: PointHistoryView) -> PointHistoryConnection:
        return cls(
            edges=[
                PointHistoryEdge(cursor=e.cursor, node=PointEntry.from_view(e))
                for e in view.entries
            ],
            page_info=PageInfo(has_next_page=view.has_next_page, end_cursor=view.end_cursor),
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
        self, info: strawberry.Info[Any, Any], first: int | None = 20, after: str | None = None
    ) -> PointHistoryConnection:
        return await public_resolvers(info).point_history(info, self, first, after)

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


@strawberry.type(description="The signed-in member.")
class Viewer:
    user_id: strawberry.ID

    @strawberry.field(description="The inbox, newest first. `first` is 1..100.")
    async def inbox(
        self,
        info: strawberry.Info[Any, Any],
        first: int | None = 20,
        after: str | None = None,
        filter: InboxFilter | None = None,
    ) -> InboxConnection:
        return await public_resolvers(info).inbox(info, self, first, after, filter)

    @strawberry.field(description="One of my notifications; null if it is not mine or not visible.")
    async def notification(
        self, info: strawberry.Info[Any, Any], id: strawberry.ID
    ) -> InboxItem | None:
        return await public_resolvers(info).notification(info, self, str(id))

    @strawberry.field(description="Exact number of visible unread notifications.")
    async def unread_count(
        self, info: strawberry.Info[Any, Any], categories: list[str] | None = None
    ) -> int:
        return await public_resolvers(info).unread_count(info, self, categories)

    @strawberry.field
    async def point_club(self, info: strawberry.Info[Any, Any]) -> PointClubStatus:
        return await public_resolvers(info).point_club(info, self)


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in member; UNAUTHENTICATED without a valid token.")
    async def viewer(self, info: strawberry.Info[Any, Any]) -> Viewer:
        return await public_resolvers(info).viewer(info)


@strawberry.type(description="The viewer's read state after a change.")
class ReadStatePayload:
    unread_count: int = strawberry.field(description="Visible unread items, all categories.")
    items: list[InboxItem] = strawberry.field(
        description="The viewer's own items among the ids, after the change (unknown ids omitted)."
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Mark notifications read; idempotent, unknown ids ignored.")
    async def mark_notifications_read(
        self, info: strawberry.Info[Any, Any], ids: list[strawberry.ID]
    ) -> ReadStatePayload:
        return await public_resolvers(info).mark_notifications_read(info, [str(i) for i in ids])

    @strawberry.mutation(description="Mark one notification unread again.")
    async def mark_notification_unread(
        self, info: strawberry.Info[Any, Any], id: strawberry.ID
    ) -> ReadStatePayload:
        return await public_resolvers(info).mark_notification_unread(info, str(id))

    @strawberry.mutation(
        description="Mark every visible notification read (of some categories); one write."
    )
    async def mark_all_notifications_read(
        self, info: strawberry.Info[Any, Any], categories: list[str] | None = None
    ) -> ReadStatePayload:
        return await public_resolvers(info).mark_all_notifications_read(info, categories)

    @strawberry.mutation(description="Archive notifications: gone from lists and counts.")
    async def archive_notifications(
        self, info: strawberry.Info[Any, Any], ids: list[strawberry.ID]
    ) -> ReadStatePayload:
        return await public_resolvers(info).archive_notifications(info, [str(i) for i in ids])
