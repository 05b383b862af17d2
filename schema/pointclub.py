"""The public schema's point-club values: the wallet, pending and expiring points, ranks and
the outlook, the ledger's history. Filled from the core's read models; the status's values are
the read model's own (``PointClubView`` and its parts have these types' fields)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.domain.pointclub import PointEntryKind
from core.domain.wallet import PointKind
from core.queries.views import (
    PointEntryView,
    PointHistoryView,
    PointUseView,
)
from schema.public import PageInfo

# The core's enums are the GraphQL enums: one list of values, no mapping to keep in step.
strawberry.enum(PointEntryKind)
strawberry.enum(
    PointKind,
    description=(
        "PAID: bought points. FREE: granted points (campaigns, bonuses, point-back, mission "
        "rewards). A use takes them in the server's configured order (POINTCLUB_POINT_USE_ORDER; "
        "by default free points before paid ones, each soonest expiry first); a negative "
        "ADJUSTED entry with a pointKind takes only that kind (a refund of bought points)."
    ),
)


@strawberry.type(description="Points that expire together.")
class PointExpiry:
    amount: int = strawberry.field(description="Points still left that expire at `expiresAt`.")
    expires_at: datetime


@strawberry.type(description="Spendable points by kind; `paid + free` is the balance.")
class PointBalance:
    paid: int = strawberry.field(description="Spendable bought points.")
    free: int = strawberry.field(
        description="Spendable granted points; below zero only when the ledger used more than "
        "there was (an overdraft is charged to free points)."
    )


@strawberry.type(description="Points earned but not spendable yet (e.g. a campaign's point-back).")
class PendingPoints:
    amount: int = strawberry.field(description="Points that become spendable at `availableAt`.")
    available_at: datetime = strawberry.field(
        description="From then on the points are in `balance` (read at request time, no job)."
    )


@strawberry.type(description="What a use took from one lot of points.")
class PointUse:
    lot_id: strawberry.ID | None = strawberry.field(
        description="The EARNED entry whose lot it took from; null: unexpiring (adjusted) "
        "points of that kind, or an overdraft beyond the balance."
    )
    kind: PointKind = strawberry.field(description="The kind of points taken.")
    amount: int = strawberry.field(description="Points taken (positive).")
    expires_at: datetime | None = strawberry.field(description="The lot's expiry; null if none.")

    @classmethod
    def from_view(cls, view: PointUseView) -> PointUse:
        return cls(
            lot_id=None if view.lot_id is None else strawberry.ID(view.lot_id),
            kind=view.kind,
            amount=view.amount,
            expires_at=view.expires_at,
        )


@strawberry.type
class Rank:
    code: str
    name: str
    threshold: int
    point_back_rate: float


@strawberry.type(description="One entry of the point ledger.")
class PointEntry:
    id: strawberry.ID
    kind: PointEntryKind
    amount: int = strawberry.field(description="Positive when it adds points, negative otherwise.")
    occurred_at: datetime
    description: str | None
    point_kind: PointKind | None = strawberry.field(
        description="The kind of points it adds (EARNED, positive ADJUSTED), or the only kind "
        "a negative ADJUSTED took (null: by the use order); null for USED and EXPIRED."
    )
    expires_at: datetime | None = strawberry.field(description="EARNED: when its points expire.")
    available_at: datetime | None = strawberry.field(
        description="EARNED: pending until then (null: spendable when earned)."
    )
    consumed: list[PointUse] = strawberry.field(
        description="USED and negative ADJUSTED: what they took, in the order taken (empty for "
        "other kinds, and for uses imported before lots were recorded)."
    )

    @classmethod
    def from_view(cls, view: PointEntryView) -> PointEntry:
        return cls(
            id=strawberry.ID(view.id),
            kind=view.kind,
            amount=view.amount,
            occurred_at=view.occurred_at,
            description=view.description,
            point_kind=view.point_kind,
            expires_at=view.expires_at,
            available_at=view.available_at,
            consumed=[PointUse.from_view(use) for use in view.consumed],
        )


@strawberry.type(description="Where the next monthly evaluation puts the member, as things stand.")
class RankOutlook:
    projected_rank: Rank = strawberry.field(
        description="The rank the next `ranks evaluate` to reach you will give if no more "
        "points are used: this JST month's while it has not run for you yet (from the six "
        "months before this one), else next month's (from this month and the five before)."
    )
    points_to_keep_rank: int = strawberry.field(
        description="More points to use by `keepRankBy` to keep the current rank at next "
        "month's evaluation; 0 if it is kept already."
    )
    keep_rank_by: datetime = strawberry.field(
        description="The end of this JST month: use after it counts for the evaluation after."
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
