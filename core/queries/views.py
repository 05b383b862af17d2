"""Read models handed to the API layer, already localized: frozen dataclasses, and the inbox's
items and the point-club status, whose fields are read when asked for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.domain.club_status import ClubStatus, PointExpiry
from core.domain.inbox import InboxEntry, InboxState
from core.domain.missions import GoalKind
from core.domain.notification import Notification, Priority
from core.domain.pointclub import PointEntryKind, Rank
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
class PointBalanceView:
    paid: int
    free: int


class PointClubView:
    """The member's point-club status, in the viewer's locale.

    Its fields are read from the domain's status when they are asked for: a home screen that
    shows the balance and the rank's code does not pay for three ranks' localized views, the
    expiries by kind and the outlook (issue 18). Like ``InboxItemView``, it is the GraphQL
    ``PointClubStatus`` itself, and its parts are its GraphQL types' (same field names). The
    status is frozen, so a field reads the same every time."""

    __slots__ = ("_default_locale", "_locales", "_status", "user_id")

    def __init__(
        self, user_id: str, status: ClubStatus, locales: tuple[str, ...], default_locale: str
    ) -> None:
        self.user_id = user_id
        self._status = status
        self._locales = locales
        self._default_locale = default_locale

    @property
    def balance(self) -> int:
        return self._status.balance

    @property
    def balance_by_kind(self) -> PointBalanceView:
        spendable = self._status.balance_by_kind
        return PointBalanceView(paid=spendable[PointKind.PAID], free=spendable[PointKind.FREE])

    @property
    def next_expiry(self) -> PointExpiryView | None:
        soonest = self._status.next_expiry
        return None if soonest is None else PointExpiryView(soonest.amount, soonest.expires_at)

    @property
    def all_expiring(self) -> tuple[PointExpiryView, ...]:
        return _expiries(self._status.expiring)

    @property
    def expiring_by_kind(self) -> dict[PointKind, tuple[PointExpiryView, ...]]:
        return {kind: _expiries(e) for kind, e in self._status.expiring_by_kind.items()}

    @property
    def pending(self) -> tuple[PendingPointsView, ...]:
        return tuple(PendingPointsView(p.amount, p.expires_at) for p in self._status.pending)

    @property
    def rank(self) -> RankView:
        return self._rank(self._status.rank)

    @property
    def next_rank(self) -> RankView | None:
        upper = self._status.next_rank
        return None if upper is None else self._rank(upper)

    @property
    def qualifying_points(self) -> int:
        return self._status.qualifying_points

    @property
    def points_to_next_rank(self) -> int | None:
        return self._status.points_to_next_rank

    @property
    def rank_valid_until(self) -> datetime:
        return self._status.rank_valid_until

    @property
    def outlook(self) -> RankOutlookView:
        outlook = self._status.outlook
        return RankOutlookView(
            projected_rank=self._rank(outlook.projected_rank),
            points_to_keep_rank=outlook.points_to_keep_rank,
            keep_rank_by=outlook.keep_rank_by,
        )

    def _rank(self, rank: Rank) -> RankView:
        return RankView(
            code=rank.code,
            name=rank.name_for(self._locales, self._default_locale),
            threshold=rank.threshold,
            point_back_rate=rank.point_back_rate,
        )


def _expiries(expiries: tuple[PointExpiry, ...]) -> tuple[PointExpiryView, ...]:
    return tuple(PointExpiryView(e.amount, e.expires_at) for e in expiries)


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
