"""Fan-out deliveries in memory: ``FanoutStore`` with the DynamoDB adapter's rules (one batch
all or nothing, checkpoints strictly forward, each member counted once, nothing after a recall,
a member whose data refuses the write recorded as failed and the rest delivered)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from core.domain.audience import (
    BatchResult,
    Checkpoint,
    DeliveryFigures,
    FailedMember,
    NotificationRecalled,
    PartitionOvertaken,
)
from core.domain.inbox import InboxEntry
from core.domain.notification import NotificationState
from tests.fakes.world import Prep, World

BATCH_MEMBERS = 48
RETRIES_PARTITION = "retries"
REFUSED = "ValidationException: Item size has exceeded the maximum allowed size"


class FakeFanout:
    batch_size = BATCH_MEMBERS

    def __init__(self, world: World | None = None) -> None:
        self.world = world or World()

    async def checkpoints(self, notification_id: str) -> dict[str, Checkpoint]:
        self.world.check()
        return {
            partition: Checkpoint(partition=partition, last=prep.last, done=prep.done)
            for partition, prep in self._preps(notification_id).items()
        }

    async def deliver_batch(
        self,
        notification_id: str,
        partition: str,
        members: Sequence[str],
        entry: InboxEntry,
        *,
        checkpointed: bool = True,
    ) -> BatchResult:
        self.world.check()
        if not members:
            return BatchResult(0, 0)
        if len(members) > BATCH_MEMBERS:
            raise ValueError(f"at most {BATCH_MEMBERS} members in a batch")
        self._guard(notification_id)
        last = members[-1] if checkpointed else None
        prep = self._preps(notification_id).get(partition, Prep())
        if last is not None and prep.last is not None and prep.last >= last:
            raise PartitionOvertaken(partition)
        failures = self.world.failures.setdefault(notification_id, {})
        delivered: list[str] = []
        already = 0
        failed: list[FailedMember] = []
        known: list[FailedMember] = []
        for member in members:
            if member in self.world.refusing:
                if member in failures:
                    known.append(FailedMember(member, failures[member]))
                else:
                    failed.append(FailedMember(member, REFUSED))
            elif notification_id in self.world.entries.get(member, {}):
                already += 1
            else:
                self._deliver(member, entry)
                delivered.append(member)
        for failure in failed:
            failures[failure.user_id] = failure.reason
        self._count(
            notification_id,
            partition,
            targeted=len(delivered) + len(failed),
            delivered=len(delivered),
            failed=len(failed),
            last=last,
        )
        if delivered:
            self._log(notification_id, f"{partition}#{last}", delivered)
        return BatchResult(len(delivered), already, (*failed, *known), tuple(delivered))

    async def retry_failed(
        self,
        notification_id: str,
        entry: InboxEntry,
        owns: Callable[[str], bool] | None = None,
    ) -> BatchResult:
        self.world.check()
        delivered = already = 0
        still: list[FailedMember] = []
        reached: list[str] = []
        for member in sorted(self.world.failures.get(notification_id, {})):
            if owns is not None and not owns(member):
                continue
            result = await self.retry_member(notification_id, member, entry)
            delivered += result.delivered
            already += result.already
            still += result.failed
            reached += result.members
        return BatchResult(delivered, already, tuple(still), tuple(reached))

    async def has_failed(self, notification_id: str, member: str) -> bool:
        self.world.check()
        return member in self.world.failures.get(notification_id, {})

    async def retry_member(
        self, notification_id: str, member: str, entry: InboxEntry
    ) -> BatchResult:
        self.world.check()
        self._guard(notification_id)
        failures = self.world.failures.setdefault(notification_id, {})
        if member not in failures:
            return BatchResult(0, 1)  # another run retried it first
        if notification_id in self.world.entries.get(member, {}):
            # Delivered meanwhile: counted where it was delivered, not here as well.
            del failures[member]
            self._count(notification_id, RETRIES_PARTITION, targeted=-1, failed=-1)
            return BatchResult(0, 1)
        if member in self.world.refusing:
            return BatchResult(0, 0, (FailedMember(member, REFUSED),))
        self._deliver(member, entry)
        del failures[member]
        self._count(notification_id, RETRIES_PARTITION, delivered=1, failed=-1)
        self._log(notification_id, f"retry.{member}", [member])
        return BatchResult(1, 0, members=(member,))

    async def finish_partition(self, notification_id: str, partition: str) -> None:
        self.world.check()
        preps = self.world.preps.setdefault(notification_id, {})
        preps[partition] = replace(preps.get(partition, Prep()), done=True)

    async def remove_delivered(
        self,
        notification_id: str,
        entry: InboxEntry,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        self.world.check()
        log = self.world.delivery_log.get(notification_id, {})
        removed = 0
        for name in sorted(log):
            members = sorted(log.pop(name))
            for member in members:
                inbox = self.world.entries.get(member, {})
                stored = inbox.get(notification_id)
                if stored is not None and stored.visible_from == entry.visible_from:
                    del inbox[notification_id]
                state = self.world.state(member)
                if state.unread.get(notification_id) == entry.marker():
                    unread = {k: v for k, v in state.unread.items() if k != notification_id}
                    self.world.states[member] = replace(state, unread=unread)
                self.world.pending.get(member, {}).pop(notification_id, None)
            removed += len(members)
            if progress is not None:
                progress(removed)
        return removed

    async def delivery_totals(
        self, notification_ids: Sequence[str]
    ) -> Mapping[str, DeliveryFigures]:
        self.world.check()
        totals: dict[str, DeliveryFigures] = {}
        for nid in notification_ids:
            preps = self._preps(nid).values()
            totals[nid] = DeliveryFigures(
                sum(p.targeted for p in preps),
                sum(p.delivered for p in preps),
                sum(p.failed for p in preps),
            )
        return totals

    def _preps(self, notification_id: str) -> dict[str, Prep]:
        return self.world.preps.get(notification_id, {})

    def _guard(self, notification_id: str) -> None:
        stored = self.world.notifications.get(notification_id)
        if stored is not None and stored.state is NotificationState.RECALLED:
            raise NotificationRecalled()

    def _deliver(self, member: str, entry: InboxEntry) -> None:
        self.world.inbox(member)[entry.notification_id] = entry
        state = self.world.state(member)
        unread = {**state.unread, entry.notification_id: entry.marker()}
        self.world.states[member] = replace(state, unread=unread)

    def _count(
        self,
        notification_id: str,
        partition: str,
        *,
        targeted: int = 0,
        delivered: int = 0,
        failed: int = 0,
        last: str | None = None,
    ) -> None:
        preps = self.world.preps.setdefault(notification_id, {})
        prep = preps.get(partition, Prep())
        preps[partition] = replace(
            prep,
            last=last if last is not None else prep.last,
            targeted=prep.targeted + targeted,
            delivered=prep.delivered + delivered,
            failed=prep.failed + failed,
        )

    def _log(self, notification_id: str, name: str, members: Sequence[str]) -> None:
        self.world.delivery_log.setdefault(notification_id, {})[name] = tuple(members)
