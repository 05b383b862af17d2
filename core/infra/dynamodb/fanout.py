"""Fan-out writes: delivery batches with their checkpoint, delivery log and recall guard.

A batch of up to 48 members is one TransactWriteItems: for each member the entry (only if
absent) and the unread marker; the partition's checkpoint, moved strictly forward, which counts
the members delivered and failed; a delivery log item naming the members delivered (what a
recall's clean-up removes, whoever was reached and however the audience changed since); and a
condition that the notification is not recalled. Either all of it happens or none:

- a run killed at any moment resumes from its last checkpoint, no member delivered twice;
- a second run of the same notification that reaches a batch already checkpointed is told so
  (``PartitionOvertaken``) and goes on after the checkpoint, so overlapping runs both finish and
  count each member once;
- nothing is delivered after a recall (``NotificationRecalled``);
- a member whose data refuses the write (an item at its size limit, say) is taken out of the
  batch and recorded (``F#<member>``, counted as failed) for a later run to retry; the rest of
  the batch goes on.

The figures of a notification are the sums over its checkpoint items (no hot item).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from core.domain.audience import (
    BatchResult,
    Checkpoint,
    DeliveryFigures,
    FailedMember,
    NotificationRecalled,
    PartitionOvertaken,
)
from core.domain.inbox import InboxEntry
from core.errors import Unavailable
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.batch import MAX_ATTEMPTS, backoff, contended
from core.infra.dynamodb.client import cancellation_reasons, translated_errors
from core.infra.dynamodb.fanout_items import BUSY, FanoutItems, member_outcomes, prep_pk, reason_at

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

# Two items a member, plus the checkpoint, the delivery log and the recall guard: 99 of 100.
BATCH_MEMBERS = 48
RETRIES_PARTITION = "retries"  # the checkpoint item that counts retried failures


class DynamoFanoutStore:
    batch_size = BATCH_MEMBERS

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table
        self._items = FanoutItems(table)

    async def checkpoints(self, notification_id: str) -> dict[str, Checkpoint]:
        found: dict[str, Checkpoint] = {}
        async for item in self._prep_items(notification_id, "P#"):
            partition = item[keys.SK]["S"].removeprefix("P#")
            found[partition] = Checkpoint(
                partition=partition,
                last=item["last"]["S"] if "last" in item else None,
                done=item.get("done", {}).get("BOOL", False),
            )
        return found

    async def deliver_batch(
        self,
        notification_id: str,
        partition: str,
        members: Sequence[str],
        entry: InboxEntry,
        *,
        checkpointed: bool = True,
    ) -> BatchResult:
        """Deliver ``entry`` to ``members`` (sorted, after the partition's checkpoint; with
        ``checkpointed=False``, as a delivery by hand that moves no checkpoint)."""
        if not members:
            return BatchResult(0, 0)
        if len(members) > BATCH_MEMBERS:
            raise ValueError(f"at most {BATCH_MEMBERS} members in a batch")
        pending = list(members)
        already = 0
        failed: list[FailedMember] = []  # recorded and counted by this batch
        known: list[FailedMember] = []  # recorded before (another partition, run or --user)
        marker = keys.encode_marker(entry.marker())
        last = members[-1] if checkpointed else None
        attempt = 0
        while attempt < MAX_ATTEMPTS:
            items = [
                *self._items.member_items(pending, entry, marker),
                *self._items.batch_items(notification_id, partition, pending, last, failed),
            ]
            try:
                with translated_errors("deliver a batch"):
                    await self._client.transact_write_items(TransactItems=items)
                return BatchResult(len(pending), already, (*failed, *known), tuple(pending))
            except self._client.exceptions.TransactionCanceledException as error:
                reasons = cancellation_reasons(error)
                guard, checkpoint = len(items) - 1, 2 * len(pending)
                if reason_at(reasons, guard) == "ConditionalCheckFailed":
                    raise NotificationRecalled() from error
                if reason_at(reasons, checkpoint) == "ConditionalCheckFailed":
                    raise PartitionOvertaken(partition) from error
                recorded = {
                    failed[index].user_id
                    for index in range(len(failed))
                    if reason_at(reasons, checkpoint + 1 + index) == "ConditionalCheckFailed"
                }
                have, refused = member_outcomes(pending, reasons, error)
                if have or refused or recorded:
                    # Members who have the entry keep it (and their read state); members whose
                    # data refuses the write are recorded once (and counted once); the others
                    # go in the next attempt.
                    already += len(have)
                    known += [f for f in failed if f.user_id in recorded]
                    failed = [f for f in failed if f.user_id not in recorded] + refused
                    gone = have | {f.user_id for f in refused}
                    pending = [member for member in pending if member not in gone]
                    continue
                if not BUSY & set(reasons):
                    raise
            except Unavailable:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
            attempt += 1
            await backoff(attempt)
        raise Unavailable("DynamoDB kept refusing a delivery batch")

    async def retry_failed(
        self,
        notification_id: str,
        entry: InboxEntry,
        owns: Callable[[str], bool] | None = None,
    ) -> BatchResult:
        """Deliver again to the members recorded as failed (those ``owns`` says are this
        worker's); those who still fail stay recorded."""
        delivered = already = 0
        still: list[FailedMember] = []
        reached: list[str] = []
        async for item in self._prep_items(notification_id, "F#"):
            member = item[keys.SK]["S"].removeprefix("F#")
            if owns is not None and not owns(member):
                continue
            result = await self.retry_member(notification_id, member, entry)
            delivered += result.delivered
            already += result.already
            still += result.failed
            reached += result.members
        return BatchResult(delivered, already, tuple(still), tuple(reached))

    async def has_failed(self, notification_id: str, member: str) -> bool:
        with translated_errors("read a failed delivery"):
            found = await self._client.get_item(
                TableName=self._table, Key=self._items.failure_key(notification_id, member)
            )
        return "Item" in found

    async def retry_member(
        self, notification_id: str, member: str, entry: InboxEntry
    ) -> BatchResult:
        """One member recorded as failed: delivered now and the record gone (the figures move
        from failed to delivered), or still failing and still recorded."""
        marker = keys.encode_marker(entry.marker())
        forget: Any = {
            "Delete": {
                "TableName": self._table,
                "Key": self._items.failure_key(notification_id, member),
                "ConditionExpression": "attribute_exists(PK)",
            }
        }
        deliver: list[Any] = [
            *self._items.member_items([member], entry, marker),
            forget,
            self._items.count(notification_id, RETRIES_PARTITION, delivered=1, failed=-1),
            self._items.log(notification_id, f"retry.{member}", [member]),
            self._items.guard(notification_id),
        ]
        try:
            await contended(
                "retry a failed delivery",
                partial(self._client.transact_write_items, TransactItems=deliver),
            )
            return BatchResult(1, 0, members=(member,))
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = cancellation_reasons(error)
            if reason_at(reasons, len(deliver) - 1) == "ConditionalCheckFailed":
                raise NotificationRecalled() from error
            if reason_at(reasons, 2) == "ConditionalCheckFailed":
                return BatchResult(0, 1)  # another run retried it first
            if reason_at(reasons, 0) == "ConditionalCheckFailed":
                # The member has the entry (delivered meanwhile): the record is all that is
                # left, and the member is counted where it was delivered, not here as well.
                uncount = self._items.count(
                    notification_id, RETRIES_PARTITION, targeted=-1, failed=-1
                )
                drop: list[Any] = [forget, uncount]
                # (another run may have dropped it first)
                with contextlib.suppress(self._client.exceptions.TransactionCanceledException):
                    await contended(
                        "retry a failed delivery",
                        partial(self._client.transact_write_items, TransactItems=drop),
                    )
                return BatchResult(0, 1)
            _, refused = member_outcomes([member], reasons, error)
            if refused:
                return BatchResult(0, 0, tuple(refused))
            raise

    async def delivery_totals(self, notification_ids: Sequence[str]) -> dict[str, DeliveryFigures]:
        """What the fan-out counted for each notification: the sums over its checkpoints."""
        totals: dict[str, DeliveryFigures] = {}
        for nid in notification_ids:
            targeted = delivered = failed = 0
            async for item in self._prep_items(nid, "P#", projection="tgt, dlv, fl"):
                targeted += int(item.get("tgt", {"N": "0"})["N"])
                delivered += int(item.get("dlv", {"N": "0"})["N"])
                failed += int(item.get("fl", {"N": "0"})["N"])
            totals[nid] = DeliveryFigures(targeted, delivered, failed)
        return totals

    async def finish_partition(self, notification_id: str, partition: str) -> None:
        with translated_errors("finish a fan-out partition"):
            await self._client.update_item(
                TableName=self._table,
                Key=self._items.checkpoint_key(notification_id, partition),
                UpdateExpression="SET done = :done",
                ExpressionAttributeValues={":done": {"BOOL": True}},
            )

    async def remove_delivered(
        self,
        notification_id: str,
        entry: InboxEntry,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Recall clean-up: the entries and markers of every member the delivery log names (and
        the log items with them, so a rerun goes on where it stopped). Returns members removed."""
        marker = keys.encode_marker(entry.marker())
        removed = 0
        async for item in self._prep_items(notification_id, "D#"):
            members = sorted(item.get("m", {}).get("SS", []))
            items: list[Any] = []
            for member in members:
                items.append(
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": {
                                keys.PK: codec.s(keys.user_pk(member)),
                                keys.SK: codec.s(
                                    keys.entry_sk(entry.visible_from, entry.notification_id)
                                ),
                            },
                        }
                    }
                )
                items.append(self._items.state_update(member, "DELETE unread :m, pend :m", marker))
            items.append(
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": {keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
                    }
                }
            )
            await contended(
                "clean up recalled entries",
                partial(self._client.transact_write_items, TransactItems=items),
            )
            removed += len(members)
            if progress is not None:
                progress(removed)
        return removed

    async def _prep_items(
        self, notification_id: str, prefix: str, projection: str | None = None
    ) -> Any:
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :p)",
            "ExpressionAttributeValues": {
                ":pk": codec.s(prep_pk(notification_id)),
                ":p": codec.s(prefix),
            },
            "ConsistentRead": True,
        }
        if projection is not None:
            params["ProjectionExpression"] = projection
        while True:
            with translated_errors("read the fan-out's records"):
                page = await self._client.query(**params)
            for item in page.get("Items", []):
                yield item
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
