"""Walking a notification's audience: this worker's share of it (``--shard I/N``), its partitions
in member-id order from their checkpoints, in delivery batches, several partitions at once.

The audience is split in partitions (16 member shards, times the ranks of a rule segment); a
batch is one transaction with its partition's checkpoint (``FanoutStore``), so a run killed
anywhere resumes where it stopped, and a run that finds another ahead of it goes on from there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from core.domain.audience import (
    MEMBER_SHARDS,
    AudiencePartition,
    Checkpoint,
    FailedMember,
    PartitionOvertaken,
    member_shard,
)
from core.domain.events import new_item
from core.domain.inbox import InboxEntry
from core.domain.notification import AudienceKind, Notification, NotificationState
from core.domain.segment import SegmentKind, SegmentRule
from core.errors import InvalidInput, NotFound
from core.observability.spans import chunk_span
from core.ports import FanoutStore, InboxEvents, SegmentStore

log = structlog.get_logger("pointclub.fanout")

Progress = Callable[[int, int], None]  # (members walked so far, members expected)
MEMBER_CONCURRENCY = 16  # members visited at once by a job that walks every member


async def for_each_member(
    segments: SegmentStore,
    span: str,
    visit: Callable[[str], Awaitable[None]],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Visit every member (the ALL_MEMBERS audience), a page at a time, ``MEMBER_CONCURRENCY``
    at once; memory holds one page. Returns how many were visited."""
    limit = asyncio.Semaphore(MEMBER_CONCURRENCY)

    async def bounded(user_id: str) -> None:
        async with limit:
            await visit(user_id)

    walked = 0
    for partition in segments.partitions(SegmentRule(SegmentKind.ALL_MEMBERS), None):
        async for page in segments.member_pages(partition, None):
            with chunk_span(span, partition.key):
                await asyncio.gather(*(bounded(user_id) for user_id in page))
            walked += len(page)
            if progress is not None:
                progress(walked)
    return walked


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

    def owns_member(self, member: str) -> bool:
        return self.owns(member_shard(member))


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
    broadcast: bool = False  # stored once: ``audience`` is its reach, nothing was walked
    skipped: bool = False  # published ahead only when a broadcast; a fan-out waits its time

    def note_failures(self, failed: Sequence[FailedMember]) -> None:
        self.failed += len(failed)
        for failure in failed:
            log.warning(
                "fanout.member_failed",
                notification_id=self.notification_id,
                member=failure.user_id,
                reason=failure.reason,
            )


@dataclass(frozen=True)
class Audience:
    """A notification's audience resolved: its rule (None for one member) and its partitions."""

    notification: Notification
    rule: SegmentRule | None
    segment: str | None
    partitions: list[AudiencePartition]

    def own(self, shard: ShardSpec | None) -> list[AudiencePartition]:
        return [p for p in self.partitions if shard is None or shard.owns(p.shard)]


class AudienceWalker:
    """Resolves a notification's audience into partitions and walks them page by page."""

    def __init__(self, segments: SegmentStore) -> None:
        self._segments = segments

    async def resolve(self, notification: Notification) -> Audience:
        if notification.audience.kind is AudienceKind.USER:
            user = notification.audience.user_id or ""
            only = AudiencePartition(f"U.{member_shard(user):02d}", member_shard(user))
            return Audience(notification, None, None, [only])
        name = notification.audience.segment or ""
        segment = await self._segments.get(name)
        if segment is None:
            raise NotFound(f"the audience segment {name} does not exist")
        return Audience(
            notification, segment.rule, name, self._segments.partitions(segment.rule, name)
        )

    async def size(self, audience: Audience) -> int:
        if audience.rule is None:
            return 1
        return await self._segments.size(audience.rule, audience.segment)

    async def pages(
        self, notification: Notification, partition: AudiencePartition, after: str | None
    ) -> AsyncIterator[list[str]]:
        if partition.key.startswith("U."):
            user = notification.audience.user_id or ""
            if after is None or after < user:
                yield [user]
            return
        async for page in self._segments.member_pages(partition, after):
            yield page


class PartitionWalk:
    """One run's walk of its partitions: each in member-id order from its checkpoint, in
    batches; when another run of the same notification is ahead, on from its checkpoint."""

    def __init__(
        self,
        *,
        fanout: FanoutStore,
        walker: AudienceWalker,
        entry: InboxEntry,
        report: FanoutReport,
        progress: Progress | None,
        expected: int,
        events: InboxEvents,
    ) -> None:
        self._events = events
        self._fanout = fanout
        self._walker = walker
        self._entry = entry
        self._report = report
        self._progress = progress
        self._expected = expected
        self._walked = 0

    async def all(
        self, audience: Audience, partitions: Sequence[AudiencePartition], concurrency: int
    ) -> None:
        """Every partition given, ``concurrency`` at a time; when one fails (recalled, or the
        store gave up) the others stop too."""
        checkpoints = await self._fanout.checkpoints(self._report.notification_id)
        limit = asyncio.Semaphore(concurrency)
        walks = [
            asyncio.create_task(
                self._bounded(limit, audience.notification, p, checkpoints.get(p.key))
            )
            for p in partitions
        ]
        try:
            await asyncio.gather(*walks)
        except BaseException:
            for task in walks:
                task.cancel()
            await asyncio.gather(*walks, return_exceptions=True)
            raise

    async def _bounded(
        self,
        limit: asyncio.Semaphore,
        notification: Notification,
        partition: AudiencePartition,
        checkpoint: Checkpoint | None,
    ) -> None:
        async with limit:
            await self.partition(notification, partition, checkpoint)

    async def partition(
        self,
        notification: Notification,
        partition: AudiencePartition,
        checkpoint: Checkpoint | None,
    ) -> None:
        nid = notification.notification_id
        while checkpoint is None or not checkpoint.done:
            try:
                after = None if checkpoint is None else checkpoint.last
                await self._batches(notification, partition, after)
                break
            except PartitionOvertaken:
                checkpoint = (await self._fanout.checkpoints(nid)).get(partition.key)
        else:
            return  # another run finished it
        await self._fanout.finish_partition(nid, partition.key)

    async def _batches(
        self, notification: Notification, partition: AudiencePartition, after: str | None
    ) -> None:
        nid = notification.notification_id
        size = self._fanout.batch_size
        async for page in self._walker.pages(notification, partition, after):
            for start in range(0, len(page), size):
                batch = page[start : start + size]
                with chunk_span("fanout.batch", partition.key):
                    result = await self._fanout.deliver_batch(
                        nid, partition.key, batch, self._entry
                    )
                await self._events.to_members(result.members, new_item(nid))
                self._report.audience += len(batch)
                self._report.delivered += result.delivered
                self._report.already += result.already
                self._report.note_failures(result.failed)
                self._walked += len(batch)
                if self._progress is not None:
                    self._progress(self._walked, max(self._expected, self._walked))
