"""Read models handed to the API layer: plain frozen dataclasses, already localized."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.domain.missions import GoalKind
from core.domain.notification import Priority
from core.domain.pointclub import PointEntryKind
from core.domain.wallet import PointKind


@dataclass(frozen=True)
class InboxItemView:
    id: str
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
    cursor: str


@dataclass(frozen=True)
class InboxPageView:
    items: tuple[InboxItemView, ...]
    has_next_page: bool
    end_cursor: str | None
    unread_count: int


@dataclass(frozen=True)
class RankView:
    code: str
    name: str
    threshold: int
    point_back_rate: float


@dataclass(frozen=True)
class PointExpiryView:
    amount: int
    expires_at: datetime


@dataclass(frozen=True)
class PendingPointsView:
    amount: int
    available_at: datetime


@dataclass(frozen=True)
class RankOutlookView:
    projected_rank: RankView
    points_to_keep_rank: int
    keep_rank_by: datetime


@dataclass(frozen=True)
class PointClubView:
    user_id: str
    balance: int
    paid_balance: int
    free_balance: int
    expiring: tuple[PointExpiryView, ...]
    expiring_paid: tuple[PointExpiryView, ...]
    expiring_free: tuple[PointExpiryView, ...]
    pending: tuple[PendingPointsView, ...]
    rank: RankView
    next_rank: RankView | None
    qualifying_points: int
    points_to_next_rank: int | None
    rank_valid_until: datetime
    outlook: RankOutlookView


@dataclass(frozen=True)
class PointUseView:
    lot_id: str | None
    kind: PointKind
    amount: int
    expires_at: datetime | None


@dataclass(frozen=True)
class PointEntryView:
    id: str
    kind: PointEntryKind
    amount: int
    occurred_at: datetime
    description: str | None
    cursor: str
    point_kind: PointKind | None = None
    expires_at: datetime | None = None
    available_at: datetime | None = None
    consumed: tuple[PointUseView, ...] = ()


@dataclass(frozen=True)
class PointHistoryView:
    entries: tuple[PointEntryView, ...]
    has_next_page: bool
    end_cursor: str | None


@dataclass(frozen=True)
class MissionView:
    id: str
    title: str
    body: str
    goal_kind: GoalKind
    target: int
    event: str | None
    progress: int  # at most the target
    reward: int
    reward_valid_days: int
    starts_at: datetime
    ends_at: datetime
    completed_at: datetime | None
    cursor: str


@dataclass(frozen=True)
class MissionPageView:
    missions: tuple[MissionView, ...]
    has_next_page: bool
    end_cursor: str | None
