"""The public (front-end) schema's plain data types: inbox items and pages, point-club values.

The types whose fields do I/O (``Query``, ``Viewer``, ``PointClubStatus``, ``Mutation``) live
beside their resolvers in ``resolvers/``; these are filled from the core's read models.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.domain.notification import Priority
from core.domain.pointclub import PointEntryKind
from core.queries.views import (
    InboxItemView,
    InboxPageView,
    PointEntryView,
    PointHistoryView,
    RankView,
)

# The core's enums are the GraphQL enums: one list of values, no mapping to keep in step.
strawberry.enum(Priority)
strawberry.enum(PointEntryKind)


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


@strawberry.type(description="The viewer's read state after a change.")
class ReadStatePayload:
    unread_count: int = strawberry.field(description="Visible unread items, all categories.")
    items: list[InboxItem] = strawberry.field(
        description="The viewer's own items among the ids, after the change (unknown ids omitted)."
    )
