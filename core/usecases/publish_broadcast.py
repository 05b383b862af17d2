"""Publishing a broadcast: a notification to every member or to ranks, stored once.

One transaction saves the notification PUBLISHED (with the audience size read from the member
counts per rank) and puts it into every copy of the live list, taking expired broadcasts out:
the same writes for ten members as for ten million. A full live list refuses the publish.
"""

from __future__ import annotations

from collections.abc import Collection

import structlog

from core.domain.broadcast import Broadcast
from core.domain.notification import Notification, NotificationState
from core.domain.segment import SegmentKind, SegmentRule
from core.errors import Conflict
from core.ports import Clock, InboxEvents, LedgerStore, LiveListStore, NotificationStore

log = structlog.get_logger("pointclub.fanout")

BROADCAST_KINDS = frozenset({SegmentKind.ALL_MEMBERS, SegmentKind.RANKS})
PUBLISHABLE = frozenset({NotificationState.DRAFT, NotificationState.SCHEDULED})
MAX_SAVE_ATTEMPTS = 10
MAX_DROPPED = 50  # expired broadcasts one publish takes off the list (the rest: the next one)


def is_broadcast(rule: SegmentRule | None) -> bool:
    return rule is not None and rule.kind in BROADCAST_KINDS


class PublishBroadcast:
    def __init__(
        self,
        *,
        notifications: NotificationStore,
        members: LedgerStore,
        live: LiveListStore,
        clock: Clock,
        max_live: int,
        rank_codes: Collection[str],
        events: InboxEvents,
    ) -> None:
        self._events = events
        self._notifications = notifications
        self._members = members
        self._live = live
        self._clock = clock
        self._max_live = max_live
        self._rank_codes = tuple(rank_codes)

    async def audience_size(self, rule: SegmentRule) -> int:
        """Members holding the rule's ranks now (every rank for ALL_MEMBERS), from the counts."""
        counts = await self._members.rank_counts()
        ranks = self._rank_codes if rule.kind is SegmentKind.ALL_MEMBERS else rule.ranks
        return sum(max(0, counts.get(rank, 0)) for rank in ranks)

    async def run(self, notification: Notification, rule: SegmentRule, actor: str) -> Notification:
        """Publish (a published one is returned as it is); ``Conflict`` when the live list is
        full, the notification has expired, or it kept changing."""
        for _ in range(MAX_SAVE_ATTEMPTS):
            if notification.state not in PUBLISHABLE:
                if notification.state is NotificationState.RECALLED:
                    raise Conflict("the notification is recalled")
                return notification
            now = self._clock.now()
            if notification.expires_at is not None and notification.expires_at <= now:
                raise Conflict("the notification has expired")
            reach = await self.audience_size(rule)
            published = notification.publish_broadcast(reach, now, actor)
            broadcast = _broadcast_of(published, rule)
            listed = await self._live.live_in_shard(0)
            expired = sorted(b.notification_id for b in listed.broadcasts if b.has_expired(now))
            drop = expired[:MAX_DROPPED]
            live = len(listed.broadcasts) - len(drop)
            if live >= self._max_live:
                raise Conflict(
                    f"the live list holds {live} broadcasts, its limit "
                    f"(POINTCLUB_MAX_LIVE_BROADCASTS); recall one or wait for one to expire"
                )
            try:
                await self._notifications.publish_broadcast(
                    published,
                    expected=notification.state,
                    audit=published.last_audit,
                    broadcast=broadcast,
                    drop=drop,
                )
            except Conflict:
                found = await self._notifications.get(notification.notification_id)
                if found is None:
                    raise
                notification = found  # an edit saved meanwhile: read it again
                continue
            log.info(
                "broadcast.published",
                notification_id=published.notification_id,
                reach=reach,
                expired_removed=len(drop),
            )
            # One message, whatever the audience: each server tells the subscribers it reaches,
            # now, or (published ahead) at its visibleFrom.
            if broadcast.visible_from <= now:
                await self._events.announce(published.notification_id)
            else:
                await self._events.upcoming(published.notification_id, broadcast.visible_from)
            return published
        raise Conflict("the notification kept changing; publish it again")


def _broadcast_of(notification: Notification, rule: SegmentRule) -> Broadcast:
    if notification.visible_from is None:
        raise ValueError("a published notification has its visibleFrom")
    return Broadcast(
        notification_id=notification.notification_id,
        visible_from=notification.visible_from,
        category=notification.category,
        expires_at=notification.expires_at,
        ranks=None if rule.kind is SegmentKind.ALL_MEMBERS else frozenset(rule.ranks),
        rule=notification.audience.rule,
    )
