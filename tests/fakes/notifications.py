"""Notifications, idempotency claims and the live list in memory: ``NotificationStore`` and
``LiveListStore``, with the DynamoDB adapters' conditions (state and version on save, a claim once
per key)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace

from core.domain.broadcast import Broadcast, LiveList
from core.domain.notification import AuditRecord, Notification, NotificationState, listing_position
from core.errors import Conflict
from core.ports import IdempotencyClaim
from tests.fakes.world import World


class FakeNotifications:
    def __init__(self, world: World | None = None) -> None:
        self.world = world or World()

    @property
    def items(self) -> dict[str, Notification]:
        return self.world.notifications

    async def get_many(
        self, notification_ids: Sequence[str], *, as_of: str | None = None
    ) -> Mapping[str, Notification]:
        self.world.check()
        return {nid: self.items[nid] for nid in notification_ids if nid in self.items}

    async def get(self, notification_id: str) -> Notification | None:
        self.world.check()
        return self.items.get(notification_id)

    async def put(self, notification: Notification, *, only_if_absent: bool = False) -> bool:
        self.world.check()
        if only_if_absent and notification.notification_id in self.items:
            return False
        self.items[notification.notification_id] = notification
        return True

    async def create(
        self, notification: Notification, claim: IdempotencyClaim | None
    ) -> Notification:
        self.world.check()
        if claim is not None and (claim.actor, claim.key) in self.world.idempotency:
            nid, fingerprint = self.world.idempotency[(claim.actor, claim.key)]
            if fingerprint != claim.fingerprint:
                raise Conflict("this idempotency key was used with a different input")
            found = self.items.get(nid)
            if found is None:
                raise Conflict("the idempotency key's notification is gone")
            return found
        if notification.notification_id in self.items:
            raise Conflict(f"a notification {notification.notification_id} exists")
        if claim is not None:
            self.world.idempotency[(claim.actor, claim.key)] = (
                notification.notification_id,
                claim.fingerprint,
            )
        self.items[notification.notification_id] = notification
        return notification

    async def save(
        self, notification: Notification, *, expected: NotificationState, audit: AuditRecord
    ) -> None:
        self.world.check()
        self._save(notification, expected, audit)

    async def recall(
        self,
        notification: Notification,
        *,
        expected: NotificationState,
        audit: AuditRecord,
    ) -> None:
        self.world.check()
        self._save(notification, expected, audit)
        self.world.recalled.add(notification.notification_id)
        self.world.broadcasts.pop(notification.notification_id, None)

    async def publish_broadcast(
        self,
        notification: Notification,
        *,
        expected: NotificationState,
        audit: AuditRecord,
        broadcast: Broadcast,
        drop: Sequence[str],
    ) -> None:
        self.world.check()
        self._save(notification, expected, audit)
        for nid in drop:
            self.world.broadcasts.pop(nid, None)
        self.world.broadcasts[broadcast.notification_id] = broadcast

    def _save(
        self, notification: Notification, expected: NotificationState, audit: AuditRecord
    ) -> None:
        """What the conditional UpdateItem writes: the authored fields and state, the audit
        appended to the stored one, the version moved on; the rest stays as stored."""
        stored = self.items.get(notification.notification_id)
        if stored is None or stored.state is not expected or stored.version != notification.version:
            raise Conflict("the notification changed meanwhile; reload and retry")
        self.items[notification.notification_id] = replace(
            stored,
            state=notification.state,
            category=notification.category,
            priority=notification.priority,
            contents=notification.contents,
            audience=notification.audience,
            url=notification.url,
            image_url=notification.image_url,
            visible_from=notification.visible_from,
            expires_at=notification.expires_at,
            audit=(*stored.audit, audit),
            version=stored.version + 1,
            broadcast_reach=notification.broadcast_reach,
        )

    async def page_by_state(
        self, state: NotificationState, after: str | None, limit: int
    ) -> list[Notification]:
        self.world.check()
        ordered = sorted(
            (n for n in self.items.values() if n.state is state),
            key=listing_position,
            reverse=True,
        )
        if after is not None:
            ordered = [n for n in ordered if listing_position(n) < after]
        return ordered[:limit]

    async def all_in_state(self, state: NotificationState) -> AsyncIterator[Notification]:
        for notification in await self.page_by_state(state, None, len(self.items) + 1):
            yield notification


class FakeLiveList:
    def __init__(self, world: World | None = None, shards: int = 4) -> None:
        self.world = world or World()
        self.shards = shards

    @property
    def ids(self) -> set[str]:
        return self.world.recalled

    async def live_for(self, user_id: str) -> LiveList:
        return await self.live_in_shard(self.shard_of(user_id))

    def shard_of(self, user_id: str) -> int:
        return sum(user_id.encode()) % self.shards

    async def live_in_shard(self, shard: int) -> LiveList:
        self.world.check()
        return LiveList(
            recalled=frozenset(self.world.recalled),
            broadcasts=tuple(self.world.broadcasts.values()),
        )

    async def add(self, notification_id: str) -> None:
        self.world.check()
        self.world.recalled.add(notification_id)

    async def remove(self, notification_id: str) -> None:
        self.world.check()
        self.world.recalled.discard(notification_id)
