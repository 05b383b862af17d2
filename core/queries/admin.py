"""Read models of the admin API: notifications with delivery figures, segments and their sizes."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.domain.audience import DeliveryFigures
from core.domain.inbox import POSITION_PATTERN, check_notification_id
from core.domain.notification import Notification, NotificationState, listing_position
from core.domain.segment import Segment, SegmentKind, SegmentRule, check_rule
from core.errors import FieldError, ValidationFailed
from core.observability.spans import traced
from core.ports import FanoutStore, NotificationStore, ReadStats, SegmentStore
from core.queries.cursors import check_first, decode_cursor, encode_cursor

# A listing position (``listing_position``) has an inbox position's form: a time and an id.
NOTIFICATION_POSITION = POSITION_PATTERN


@dataclass(frozen=True)
class DeliveryStatsView:
    targeted: int
    delivered: int
    failed: int
    read: int

    @property
    def read_rate(self) -> float:
        return 0.0 if self.delivered == 0 else round(self.read / self.delivered, 4)


@dataclass(frozen=True)
class NotificationView:
    notification: Notification
    stats: DeliveryStatsView
    cursor: str


@dataclass(frozen=True)
class NotificationPageView:
    items: tuple[NotificationView, ...]
    has_next_page: bool
    end_cursor: str | None


class AdminQueries:
    def __init__(
        self,
        *,
        notifications: NotificationStore,
        segments: SegmentStore,
        stats: ReadStats,
        totals: FanoutStore,
        rank_codes: set[str],
    ) -> None:
        self._totals = totals
        self._notifications = notifications
        self._segments = segments
        self._stats = stats
        self._rank_codes = rank_codes

    @traced
    async def notification(self, notification_id: str) -> NotificationView | None:
        check_notification_id(notification_id, "id")
        found = await self._notifications.get(notification_id)
        return None if found is None else (await self._views([found]))[0]

    @traced
    async def notifications(
        self, *, first: int, after: str | None, state: NotificationState | None
    ) -> NotificationPageView:
        """Newest created first; without a state, the per-state index partitions merged."""
        check_first(first)
        position = None if after is None else decode_cursor(after, pattern=NOTIFICATION_POSITION)
        states = list(NotificationState) if state is None else [state]
        pages = await asyncio.gather(
            *(self._notifications.page_by_state(s, position, first + 1) for s in states)
        )
        merged = heapq.merge(*pages, key=listing_position, reverse=True)
        chosen = [n for _, n in zip(range(first + 1), merged, strict=False)]
        views = await self._views(chosen[:first])
        return NotificationPageView(
            items=tuple(views),
            has_next_page=len(chosen) > first,
            end_cursor=views[-1].cursor if views else None,
        )

    @traced
    async def segments(self) -> list[Segment]:
        return sorted(await self._segments.all(), key=lambda segment: segment.name)

    @traced
    async def segment_size(self, rule: SegmentRule) -> int:
        errors = check_rule(rule, self._rank_codes)
        if rule.kind is SegmentKind.USER_LIST:
            # A list has no rule to evaluate (found by schemathesis: it was a server error).
            message = "a USER_LIST has no rule to preview: see the segment's size in `segments`"
            errors.append(FieldError("rule.kind", message))
        if errors:
            raise ValidationFailed(errors)
        return await self._segments.size(rule)

    async def size_of(self, segment: Segment) -> int:
        return await self._segments.size(segment.rule, segment.name)

    async def _views(self, notifications: Sequence[Notification]) -> list[NotificationView]:
        ids = [n.notification_id for n in notifications]
        if not ids:
            return []
        fanned = [n.notification_id for n in notifications if n.broadcast_reach is None]
        reads, totals = await asyncio.gather(
            self._stats.read_counts(ids),
            self._totals.delivery_totals(fanned) if fanned else _no_totals(),
        )
        return [
            NotificationView(
                notification=n,
                stats=_stats(
                    _figures(n, totals),
                    reads.get(n.notification_id, 0),
                ),
                cursor=encode_cursor(listing_position(n)),
            )
            for n in notifications
        ]


async def _no_totals() -> Mapping[str, DeliveryFigures]:
    return {}


def _figures(notification: Notification, totals: Mapping[str, DeliveryFigures]) -> DeliveryFigures:
    """A broadcast reached its audience when published: as many delivered as targeted."""
    reach = notification.broadcast_reach
    if reach is not None:
        return DeliveryFigures(targeted=reach, delivered=reach, failed=0)
    return totals.get(notification.notification_id, DeliveryFigures())


def _stats(figures: DeliveryFigures, read: int) -> DeliveryStatsView:
    return DeliveryStatsView(figures.targeted, figures.delivered, figures.failed, read)
