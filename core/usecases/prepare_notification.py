"""``prepare-notification``: a notification into every inbox of its audience, exactly once.

A broadcast (every member, or ranks) is published instead: stored once, no inbox written
(``core/usecases/publish_broadcast.py``). A USER or USER_LIST audience is fanned out:

Members recorded as failed by earlier runs are retried first; then this worker's partitions are
walked (``core/usecases/audience_walk.py``). ``--shard I/N`` gives worker I the member shards s
with s % N == I; whichever worker finishes the last partition publishes the notification.
"""

from __future__ import annotations

import time

import structlog

from core.domain.audience import check_member_id
from core.domain.events import new_item
from core.domain.inbox import check_notification_id
from core.domain.notification import Notification, NotificationState
from core.errors import Conflict, NotFound
from core.observability.spans import traced
from core.ports import Clock, FanoutStore, InboxEvents, NotificationStore, SegmentStore
from core.usecases.audience_walk import (
    Audience,
    AudienceWalker,
    FanoutReport,
    PartitionWalk,
    Progress,
    ShardSpec,
)
from core.usecases.publish_broadcast import PublishBroadcast, is_broadcast

log = structlog.get_logger("pointclub.fanout")

BATCH_ACTOR = "batch"
MAX_SAVE_ATTEMPTS = 10  # saves of the notification's state lost to concurrent saves


class PrepareNotification:
    """Deliver a notification to its audience (or one member, or count it in a dry run)."""

    def __init__(
        self,
        *,
        notifications: NotificationStore,
        audience: SegmentStore,
        fanout: FanoutStore,
        publish: PublishBroadcast,
        clock: Clock,
        events: InboxEvents,
        concurrency: int = 16,
    ) -> None:
        self._events = events
        self._notifications = notifications
        self._publish = publish
        self._walker = AudienceWalker(audience)
        self._fanout = fanout
        self._clock = clock
        self._concurrency = concurrency

    @traced
    async def run(
        self,
        notification_id: str,
        *,
        only_user: str | None = None,
        shard: ShardSpec | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
        early: bool = False,
    ) -> FanoutReport:
        """``early``: before its visibleFrom, which only a broadcast may be (it shows then)."""
        started = time.monotonic()
        notification = await self._get(notification_id)
        if notification.state is NotificationState.RECALLED:
            raise Conflict("the notification is recalled")
        audience = await self._walker.resolve(notification)
        report = FanoutReport(
            notification_id, notification.state, partitions_total=len(audience.partitions)
        )
        # A fan-out already under way (PREPARING) finishes as a fan-out.
        if is_broadcast(audience.rule) and notification.state is not NotificationState.PREPARING:
            await self._broadcast(notification, audience, report, only_user, dry_run)
            report.seconds = time.monotonic() - started
            return report
        if early:
            report.skipped = True
            return report
        if dry_run:
            report.dry_run = True
            report.audience = await self._walker.size(audience)
            return report
        if only_user is not None:
            return await self._one_member(notification, only_user, report)
        notification = await self._start(notification)
        await self._walk(audience, notification, shard, report, progress)
        done = await self._fanout.checkpoints(notification_id)
        report.partitions_done = sum(
            1 for p in audience.partitions if p.key in done and done[p.key].done
        )
        all_done = report.partitions_done == len(audience.partitions)
        report.state = await self._finish(notification, all_done)
        report.seconds = time.monotonic() - started
        _log_finished(report)
        return report

    async def _broadcast(
        self,
        notification: Notification,
        audience: Audience,
        report: FanoutReport,
        only_user: str | None,
        dry_run: bool,
    ) -> None:
        assert audience.rule is not None
        report.broadcast = True
        report.partitions_total = 0
        if only_user is not None:
            raise Conflict(
                "a broadcast is stored once and reaches every member of its audience: "
                "there is nothing to deliver by hand"
            )
        if dry_run:
            report.dry_run = True
            report.audience = await self._publish.audience_size(audience.rule)
            return
        published = await self._publish.run(notification, audience.rule, BATCH_ACTOR)
        report.state = published.state
        report.audience = published.broadcast_reach or 0

    async def _walk(
        self,
        audience: Audience,
        notification: Notification,
        shard: ShardSpec | None,
        report: FanoutReport,
        progress: Progress | None,
    ) -> None:
        entry = notification.entry(self._clock.now())
        # Members recorded as failed by earlier runs first (each worker its own shards').
        owns = None if shard is None else shard.owns_member
        retried = await self._fanout.retry_failed(notification.notification_id, entry, owns)
        await self._events.to_members(retried.members, new_item(notification.notification_id))
        report.delivered += retried.delivered
        report.note_failures(retried.failed)
        own = audience.own(shard)
        # The audience count is a read of the whole index: only pay for it to show progress.
        expected = 0
        if progress is not None:
            size = await self._walker.size(audience)
            expected = size * len(own) // max(1, len(audience.partitions))
        walk = PartitionWalk(
            fanout=self._fanout,
            walker=self._walker,
            entry=entry,
            report=report,
            progress=progress,
            expected=expected,
            events=self._events,
        )
        await walk.all(audience, own, self._concurrency)

    async def _get(self, notification_id: str) -> Notification:
        check_notification_id(notification_id, "id")
        found = await self._notifications.get(notification_id)
        if found is None:
            raise NotFound(f"no notification {notification_id}")
        return found

    async def _start(self, notification: Notification) -> Notification:
        """DRAFT/SCHEDULED -> PREPARING, fixing visibleFrom; a resumed run finds it PREPARING.
        An edit or another worker saving meanwhile makes the save a Conflict: read it again."""
        for _ in range(MAX_SAVE_ATTEMPTS):
            now = self._clock.now()
            if notification.expires_at is not None and notification.expires_at <= now:
                raise Conflict("the notification has expired")
            if notification.state is NotificationState.RECALLED:
                raise Conflict("the notification is recalled")
            if notification.state not in (NotificationState.DRAFT, NotificationState.SCHEDULED):
                return notification
            preparing = notification.prepare(now, BATCH_ACTOR)
            try:
                await self._notifications.save(
                    preparing, expected=notification.state, audit=preparing.last_audit
                )
            except Conflict:
                notification = await self._get(notification.notification_id)
                continue
            return preparing
        raise Conflict("the notification kept changing; run the fan-out again")

    async def _finish(self, notification: Notification, all_done: bool) -> NotificationState:
        if not all_done:
            return NotificationState.PREPARING  # other workers still have partitions to walk
        for _ in range(MAX_SAVE_ATTEMPTS):
            current = await self._get(notification.notification_id)
            if current.state is not NotificationState.PREPARING:
                return current.state
            published = current.publish(self._clock.now(), BATCH_ACTOR)
            try:
                await self._notifications.save(
                    published, expected=current.state, audit=published.last_audit
                )
            except Conflict:
                continue  # an amend or another worker saved meanwhile: read it again
            return NotificationState.PUBLISHED
        return (await self._get(notification.notification_id)).state

    async def _one_member(
        self, notification: Notification, user_id: str, report: FanoutReport
    ) -> FanoutReport:
        if notification.state not in (NotificationState.PREPARING, NotificationState.PUBLISHED):
            raise Conflict(
                "--user re-delivers a prepared notification to one member; prepare it first"
            )
        check_member_id(user_id, "user")
        entry = notification.entry(self._clock.now())
        report.audience = 1
        nid = notification.notification_id
        if await self._fanout.has_failed(nid, user_id):
            result = await self._fanout.retry_member(nid, user_id, entry)
        else:
            result = await self._fanout.deliver_batch(
                nid, f"manual.{user_id}", [user_id], entry, checkpointed=False
            )
        await self._events.to_members(result.members, new_item(nid))
        report.delivered, report.already = result.delivered, result.already
        report.note_failures(result.failed)
        return report


def _log_finished(report: FanoutReport) -> None:
    log.info(
        "fanout.finished",
        notification_id=report.notification_id,
        state=report.state.value,
        audience=report.audience,
        delivered=report.delivered,
        already=report.already,
        failed=report.failed,
        partitions=f"{report.partitions_done}/{report.partitions_total}",
        seconds=round(report.seconds, 2),
    )
