"""The public (front-end) schema's plain data types: inbox items and pages, point-club values.

The types whose fields do I/O (``Query``, ``Viewer``, ``PointClubStatus``, ``Mutation``) live
beside their resolvers in ``resolvers/``; these are filled from the core's read models.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry

from core.domain.events import InboxEventKind
from core.domain.notification import Priority
from core.queries.live_events import InboxEventView
from core.queries.views import (
    InboxItemView,
    InboxPageView,
)

# The core's enums are the GraphQL enums: one list of values, no mapping to keep in step.
strawberry.enum(Priority)
strawberry.enum(
    InboxEventKind,
    description=(
        "SYNC: the first event of a subscription (its seq and count to start from). NEW_ITEM: "
        "an item arrived (delivered, or a broadcast that reaches you). READ, UNREAD, ARCHIVED: "
        "your read state changed (on any device). ALL_READ: mark-all, of `categories` (null: "
        "all). RECALLED: gone from the inbox. AMENDED: new content (`item`). UNREAD_COUNT: only "
        "the count and seq are news (a broadcast or amend that does not concern you, or, with "
        "a seq that jumps, events that were lost)."
    ),
)


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
        """The view itself: it has every field of this type, read when asked for (an object of
        a type without interfaces may be any object with its fields, in Strawberry as in
        graphql-core: no ``is_type_of`` checks it). Copying its twelve fields into an
        ``InboxItem`` cost more than the rest of an item (issue 18, `bench tax`)."""
        return cast(InboxItem, view)


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
            edges=cast(list[InboxEdge], [_Edge(item) for item in view.items]),
            page_info=PageInfo(has_next_page=view.has_next_page, end_cursor=view.end_cursor),
            unread_count=view.unread_count,
        )


class _Edge:
    """An ``InboxEdge`` over its item's view: the cursor is encoded only if it is asked for."""

    __slots__ = ("node",)

    def __init__(self, node: InboxItemView) -> None:
        self.node = node

    @property
    def cursor(self) -> str:
        return self.node.cursor


@strawberry.input
class InboxFilter:
    categories: list[str] | None = None
    unread_only: bool | None = False
    include_archived: bool | None = False


@strawberry.type(description="The viewer's read state after a change.")
class ReadStatePayload:
    unread_count: int = strawberry.field(description="Visible unread items, all categories.")
    items: list[InboxItem] = strawberry.field(
        description="The viewer's own items among the ids, after the change (unknown ids omitted)."
    )


@strawberry.type(
    description=(
        "A change of the viewer's inbox, with the exact unread count after it. `seq` goes up by "
        "one per event of this member: any other step (a gap, a reset) means events were missed: "
        "refetch the inbox. The first event is SYNC."
    )
)
class InboxEvent:
    seq: int
    kind: InboxEventKind
    unread_count: int = strawberry.field(description="Visible unread items, all categories.")
    ids: list[strawberry.ID] = strawberry.field(description="The notifications it is about.")
    item: InboxItem | None = strawberry.field(
        description="NEW_ITEM and AMENDED: the item as the inbox shows it, in your locale."
    )
    categories: list[str] | None = strawberry.field(
        description="ALL_READ: the categories marked (null: every category)."
    )

    @classmethod
    def from_view(cls, view: InboxEventView) -> InboxEvent:
        return cls(
            seq=view.seq,
            kind=view.kind,
            unread_count=view.unread_count,
            ids=[strawberry.ID(i) for i in view.ids],
            item=None if view.item is None else InboxItem.from_view(view.item),
            categories=None if view.categories is None else list(view.categories),
        )
