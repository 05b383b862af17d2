"""Read models handed to the API layer, already localized: frozen dataclasses, and the inbox's
items, whose fields are read when asked for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.domain.inbox import InboxEntry, InboxState
from core.domain.missions import GoalKind
from core.domain.notification import Notification, Priority
from core.domain.pointclub import PointEntryKind
from core.domain.wallet import PointKind
from core.queries.cursors import encode_cursor


class InboxItemView:
    """One item of the viewer's inbox, in the viewer's locale.

    Its fields are read from the entry, the notification and the member's state when they are
    asked for: a client that lists twenty items by id and title does not pay for twenty cursors,
    read times and bodies (issue 18). The entry, notification and state are frozen, so a field
    reads the same every time."""

    __slots__ = ("_content", "_entry", "_notification", "_state", "_unread")

    def __init__(
        self,
        entry: InboxEntry,
        notification: Notification,
        state: InboxState,
        locales: tuple[str, ...],
        default_locale: str,
    ) -> None:
        self._entry = entry
        self._notification = notification
        self._state = state
        self._content = notification.content_for(locales, default_locale)
        self._unread = state.is_unread(entry)

    @property
    def id(self) -> str:
        return self._entry.notification_id

    @property
    def title(self) -> str:
        return self._content.title

    @property
    def body(self) -> str:
        return self._content.body

    @property
    def url(self) -> str | None:
        return self._notification.url

    @property
    def image_url(self) -> str | None:
        return self._notification.image_url

    @property
    def category(self) -> str:
        return self._entry.category

    @property
    def priority(self) -> Priority:
        return self._notification.priority

    @property
    def visible_from(self) -> datetime:
        return self._entry.visible_from

    @property
    def expires_at(self) -> datetime | None:
        return self._entry.expires_at

    @property
    def is_read(self) -> bool:
        return not self._unread

    @property
    def read_at(self) -> datetime | None:
        return None if self._unread else self._state.item_read_at(self._entry)

    @property
    def archived_at(self) -> datetime | None:
        return self._entry.archived_at

    @property
    def cursor(self) -> str:
        return encode_cursor(self._entry.position)

    def __repr__(self) -> str:
        return f"InboxItemView(id={self.id!r}, is_read={self.is_read})"


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
