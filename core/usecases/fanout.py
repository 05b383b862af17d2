"""The batch fan-out: a notification into every inbox of its audience, exactly once.

The audience is walked in partitions (16 member shards, times the ranks of a rule segment), each
in member-id order from its checkpoint. Batches of 49 members are one transaction with the
checkpoint and the delivery figures, so a run killed anywhere resumes where it stopped and a rerun
changes nothing. ``--shard I/N`` gives worker I the member shards s with s % N == I; whichever
worker finishes the last partition publishes the notification.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import structlog

from core.domain.audience import (
    MEMBER_SHARDS,
    AudiencePartition,
    BatchResult,
    Checkpoint,
    FailedMember,
    PartitionOvertaken,
    check_member_id,
    member_shard,
)
from core.domain.inbox import InboxEntry, check_notification_id
from core.domain.notification import AudienceKind, AuditRecord, Notification, NotificationState
from core.domain.segment import Segment, SegmentRule
from core.errors import Conflict, InvalidInput, NotFound, PointclubError, Unavailable
from core.observability.spans import chunk_span, traced
from core.ports import Clock
from core.usecases.authoring import NotificationAuthoringStore

log = structlog.get_logger("pointclub.fanout")

BATCH_ACTOR = "batch"
MAX_SAVE_ATTEMPTS = 10  # saves of the notification's state lost to concurrent saves


@dataclass(frozen=True)
class ShardSpec:
    """``--shard I/N``: this worker's share of the member shards."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> ShardSpec:
        try:
            index_text, count_text = text.split("/")
            index, count = int(index_text), int(count_text)
        except ValueError as error:
            raise InvalidInput("use I/N, like 0/3", field="shard") from error
        if not (1 <= count <= MEMBER_SHARDS and 0 <= index < count):
            raise InvalidInput(f"need 0 <= I < N <= {MEMBER_SHARDS}", field="shard")
        return cls(index, count)

    def owns(self, shard: int) -> bool:
        return shard % self.count == self.index


class AudienceSource(Protocol):
    async def get(self, name: str) -> Segment | None: ...

    async def size(self, rule: SegmentRule, name: str | None = None) -> int: ...

    def partitions(self, rule: SegmentRule, name: str | None) -> list[AudiencePartition]: ...

    def member_pages(
        self, partition: AudiencePartition, after: str | None, page_size: int = 500
    ) -> AsyncIterator[list[str]]: ...


class FanoutStore(Protocol):
    batch_size: int  # members per delivery transaction

    async def checkpoints(self, notification_id: str) -> dict[str, Checkpoint]: ...

    async def deliver_batch(
        self,
        notification_id: str,
        partition: str,
        members: Sequence[str],
        entry: InboxEntry,
        *,
        checkpointed: bool = True,
    ) -> BatchResult: ...

    async def retry_failed(
        self,
        notification_id: str,
        entry: InboxEntry,
        owns: Callable[[str], bool] | None = None,
    ) -> BatchResult: ...

    async def has_failed(self, notification_id: str, member: str) -> bool: ...

    async def retry_member(
        self, notification_id: str, member: str, entry: InboxEntry
    ) -> BatchResult: ...

    async def finish_partition(self, notification_id: str, partition: str) -> None: ...

    async def remove_delivered(
        self,
        notification_id: str,
        entry: InboxEntry,
        progress: Callable[[int], None] | None = None,
    ) -> int: ...


@dataclass
class FanoutReport:
    notification_id: str
    state: NotificationState
    audience: int = 0  # members this run walked (or, dry run, would walk)
    delivered: int = 0  # entries this run wrote
    already: int = 0  # members who had the entry already
    failed: int = 0  # members this run could not reach (recorded; the next run retries them)
    partitions_done: int = 0
    partitions_total: int = 0
    dry_run: bool = False
    seconds: float = 0.0


Progress = Callable[[int, int], None]  # (members walked so far, members expected)


class AudienceWalker:
    """Resolves a notification's audience into partitions and walks them page by page."""

    def __init__(self, audience: AudienceSource) -> None:
        self._audience = audience

    async def rule_of(self, notification: Notification) -> tuple[SegmentRule | None, str | None]:
        if notification.audience.kind is AudienceKind.USER:
            return None, None
        name = notification.audience.segment or ""
        segment = await self._audience.get(name)
        if segment is None:
            raise NotFound(f"the audience segment {name} does not exist")
        return segment.rule, name

    def partitions(
        self, notification: Notification, rule: SegmentRule | None, name: str | None
    ) -> list[AudiencePartition]:
        if rule is None:
            user = notification.audience.user_id or ""
            return [AudiencePartition(f"U.{member_shard(user):02d}", member_shard(user))]
        return self._audience.partitions(rule, name)

    async def pages(
        self, notification: Notification, partition: AudiencePartition, after: str | None
    ) -> AsyncIterator[list[str]]:
        if partition.key.startswith("U."):
            user = notification.audience.user_id or ""
            if after is None or after < user:
                yield [user]
            return
        async for page in self._audience.member_pages(partition, after):
            yield page

    async def size(
        self, notification: Notification, rule: SegmentRule | None, name: str | None
    ) -> int:
        return 1 if rule is None else await self._audience.size(rule, name)


class PrepareNotification:
    def __init__(
        self,
        *,
        notifications: NotificationAuthoringStore,
        audience: AudienceSource,
        fanout: FanoutStore,
        clock: Clock,
        concurrency: int = 16,
    ) -> None:
        self._notifications = notifications
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
    ) -> FanoutReport:
        started = time.monotonic()
        notification = await self._get(notification_id)
        if notification.state is NotificationState.RECALLED:
            raise Conflict("the notification is recalled")
        rule, segment_name = await self._walker.rule_of(notification)
        partitions = self._walker.partitions(notification, rule, segment_name)
        own = [p for p in partitions if shard is None or shard.owns(p.shard)]
        report = FanoutReport(notification_id, notification.state, partitions_total=len(partitions))
        if dry_run:
            report.dry_run = True
            report.audience = await self._walker.size(notification, rule, segment_name)
            return report
        if only_user is not None:
            return await self._one_member(notification, only_user, report)
        notification = await self._start(notification)
        entry = _entry(notification, self._clock.now())
        # Members recorded as failed by earlier runs first (each worker its own shards').
        owns = None if shard is None else (lambda member: shard.owns(member_shard(member)))
        retried = await self._fanout.retry_failed(notification_id, entry, owns)
        report.delivered += retried.delivered
        self._note_failures(notification_id, retried.failed, report)
        # The audience count is a read of the whole index: only pay for it to show progress.
        expected = 0
        if progress is not None:
            size = await self._walker.size(notification, rule, segment_name)
            expected = size * len(own) // max(1, len(partitions))
        walk = _Walk(self, notification, entry, report, progress, expected)
        checkpoints = await self._fanout.checkpoints(notification_id)
        limit = asyncio.Semaphore(self._concurrency)

        async def one(partition: AudiencePartition) -> None:
            async with limit:
                await walk.partition(partition, checkpoints.get(partition.key))

        walks = [asyncio.create_task(one(partition)) for partition in own]
        try:
            await asyncio.gather(*walks)
        except BaseException:
            # Recalled (or the store gave up): the other partitions stop too.
            for task in walks:
                task.cancel()
            await asyncio.gather(*walks, return_exceptions=True)
            raise
        done = await self._fanout.checkpoints(notification_id)
        report.partitions_done = sum(1 for p in partitions if p.key in done and done[p.key].done)
        report.state = await self._finish(notification, report.partitions_done == len(partitions))
        report.seconds = time.monotonic() - started
        log.info(
            "fanout.finished",
            notification_id=notification_id,
            state=report.state.value,
            audience=report.audience,
            delivered=report.delivered,
            already=report.already,
            failed=report.failed,
            partitions=f"{report.partitions_done}/{report.partitions_total}",
            seconds=round(report.seconds, 2),
        )
        return report

    async def _get(self, notification_id: str) -> Notification:
        check_notification_id(notification_id, "id")
        found = (await self._notifications.get_many([notification_id])).get(notification_id)
        if found is None:
            raise NotFound(f"no notification {notification_id}")
        return found

    def _note_failures(
        self, notification_id: str, failed: Sequence[FailedMember], report: FanoutReport
    ) -> None:
        report.failed += len(failed)
        for failure in failed:
            log.warning(
                "fanout.member_failed",
                notification_id=notification_id,
                member=failure.user_id,
                reason=failure.reason,
            )

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
            audit = AuditRecord(now, BATCH_ACTOR, "prepare", "fan-out started")
            preparing = notification.changed(
                audit,
                state=NotificationState.PREPARING,
                visible_from=notification.visible_from or now,
            )
            try:
                await self._notifications.save(preparing, expected=notification.state, audit=audit)
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
            audit = AuditRecord(self._clock.now(), BATCH_ACTOR, "publish", "fan-out finished")
            published = current.changed(audit, state=NotificationState.PUBLISHED)
            try:
                await self._notifications.save(published, expected=current.state, audit=audit)
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
        entry = _entry(notification, self._clock.now())
        report.audience = 1
        nid = notification.notification_id
        if await self._fanout.has_failed(nid, user_id):
            result = await self._fanout.retry_member(nid, user_id, entry)
        else:
            result = await self._fanout.deliver_batch(
                nid, f"manual.{user_id}", [user_id], entry, checkpointed=False
            )
        report.delivered, report.already = result.delivered, result.already
        self._note_failures(nid, result.failed, report)
        return report


class _Walk:
    """One run's walk of its partitions: each in member-id order from its checkpoint, in
    batches; when another run of the same notification is ahead, on from its checkpoint."""

    def __init__(
        self,
        prepare: PrepareNotification,
        notification: Notification,
        entry: InboxEntry,
        report: FanoutReport,
        progress: Progress | None,
        expected: int,
    ) -> None:
        self._prepare = prepare
        self._notification = notification
        self._entry = entry
        self._report = report
        self._progress = progress
        self._expected = expected
        self._walked = 0

    async def partition(self, partition: AudiencePartition, checkpoint: Checkpoint | None) -> None:
        fanout = self._prepare._fanout
        nid = self._notification.notification_id
        while checkpoint is None or not checkpoint.done:
            try:
                await self._batches(partition, None if checkpoint is None else checkpoint.last)
                break
            except PartitionOvertaken:
                checkpoint = (await fanout.checkpoints(nid)).get(partition.key)
        else:
            return  # another run finished it
        await fanout.finish_partition(nid, partition.key)

    async def _batches(self, partition: AudiencePartition, after: str | None) -> None:
        fanout = self._prepare._fanout
        nid = self._notification.notification_id
        async for page in self._prepare._walker.pages(self._notification, partition, after):
            for start in range(0, len(page), fanout.batch_size):
                batch = page[start : start + fanout.batch_size]
                with chunk_span("fanout.batch", partition.key):
                    result = await fanout.deliver_batch(nid, partition.key, batch, self._entry)
                self._report.audience += len(batch)
                self._report.delivered += result.delivered
                self._report.already += result.already
                self._prepare._note_failures(nid, result.failed, self._report)
                self._walked += len(batch)
                if self._progress is not None:
                    self._progress(self._walked, max(self._expected, self._walked))


def _entry(notification: Notification, now: datetime) -> InboxEntry:
    return notification.entry(now)


class NotificationQueue(NotificationAuthoringStore, Protocol):
    def all_in_state(self, state: NotificationState) -> AsyncIterator[Notification]: ...


class PrepareDue:
    """Prepare every scheduled notification whose time has come, and resume interrupted ones."""

    def __init__(
        self, *, queue: NotificationQueue, prepare: PrepareNotification, clock: Clock
    ) -> None:
        self._queue = queue
        self._prepare = prepare
        self._clock = clock

    async def due(self) -> list[Notification]:
        now = self._clock.now()
        preparing = [n async for n in self._queue.all_in_state(NotificationState.PREPARING)]
        scheduled = [
            n
            async for n in self._queue.all_in_state(NotificationState.SCHEDULED)
            if n.visible_from is not None and n.visible_from <= now
        ]
        return preparing + scheduled

    @traced
    async def run(self, progress_for: Callable[[Notification], Progress | None]) -> DueReport:
        """Each due notification in turn; one that fails (recalled meanwhile, expired, its
        segment gone) is reported and the rest go on. A store that is down stops the run."""
        report = DueReport()
        for notification in await self.due():
            try:
                report.prepared.append(
                    await self._prepare.run(
                        notification.notification_id, progress=progress_for(notification)
                    )
                )
            except Unavailable:
                raise
            except PointclubError as error:
                log.warning(
                    "prepare_due.failed",
                    notification_id=notification.notification_id,
                    error=str(error),
                )
                report.failed.append((notification.notification_id, str(error)))
        return report


@dataclass
class DueReport:
    prepared: list[FanoutReport] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (notification id, why)


class CleanupRecalled:
    """After a recall, remove the members' entries and markers, then forget the recall.

    The recall took effect at once through the recall list; this only frees the space, and can
    run any time, any number of times.
    """

    def __init__(
        self,
        *,
        notifications: NotificationQueue,
        fanout: FanoutStore,
        recalls: RecallList,
    ) -> None:
        self._notifications = notifications
        self._fanout = fanout
        self._recalls = recalls

    @traced
    async def run(self, notification_id: str, progress: Progress | None = None) -> int:
        notification = (await self._notifications.get_many([notification_id])).get(notification_id)
        if notification is None:
            raise NotFound(f"no notification {notification_id}")
        if notification.state is not NotificationState.RECALLED:
            raise Conflict("only a recalled notification is cleaned up")
        if notification.visible_from is None:  # never prepared: no entries to remove
            await self._recalls.remove(notification_id)
            return 0
        # Exactly the members the delivery log names: every delivery wrote one in the same
        # transaction, none can commit after the recall, and the audience may have changed.
        entry = _entry(notification, notification.created_at)

        def removed_so_far(count: int) -> None:
            if progress is not None:
                progress(count, count)

        removed = await self._fanout.remove_delivered(notification_id, entry, removed_so_far)
        await self._recalls.remove(notification_id)
        return removed

    async def pending(self) -> list[str]:
        """Recalled notifications not cleaned up yet: the ids still on the recall list (every
        copy holds all of them), so a notification cleaned once is never walked again."""
        return sorted(await self._recalls.recalled_in_shard(0))


class RecallList(Protocol):
    async def recalled_in_shard(self, shard: int) -> frozenset[str]: ...

    async def remove(self, notification_id: str) -> None: ...
