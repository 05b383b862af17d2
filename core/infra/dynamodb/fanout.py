"""Fan-out writes: delivery batches with their checkpoint, and the checkpoints themselves.

A batch of up to 49 members is one TransactWriteItems: for each member the entry (only if absent)
and the unread marker, plus the partition's checkpoint, which also counts the partition's
targeted and delivered members. Either all of it happens or none, so a run killed at any moment
resumes from its last checkpoint with no member delivered twice and the figures exact. Only one
transaction at a time touches a checkpoint item (a partition is walked in order), so concurrent
batches never contend for an item; the figures of a notification are the sum over its
checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.domain.audience import BatchResult, Checkpoint
from core.domain.inbox import InboxEntry
from core.errors import Unavailable
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.batch import MAX_ATTEMPTS, backoff
from core.infra.dynamodb.client import translated_errors

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

BATCH_MEMBERS = 49  # two items each, plus the checkpoint and the figures: 100 per transaction


def prep_pk(notification_id: str) -> str:
    return f"PREP#{notification_id}"


class DynamoFanoutStore:
    batch_size = BATCH_MEMBERS

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def checkpoints(self, notification_id: str) -> dict[str, Checkpoint]:
        found: dict[str, Checkpoint] = {}
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": codec.s(prep_pk(notification_id))},
            "ConsistentRead": True,
        }
        while True:
            with translated_errors("read fan-out checkpoints"):
                page = await self._client.query(**params)
            for item in page.get("Items", []):
                partition = item[keys.SK]["S"].removeprefix("P#")
                found[partition] = Checkpoint(
                    partition=partition,
                    last=item["last"]["S"] if "last" in item else None,
                    done=item.get("done", {}).get("BOOL", False),
                )
            if "LastEvaluatedKey" not in page:
                return found
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    async def deliver_batch(
        self,
        notification_id: str,
        partition: str,
        members: Sequence[str],
        entry: InboxEntry,
    ) -> BatchResult:
        """Deliver ``entry`` to ``members`` (sorted, after the partition's checkpoint)."""
        if not members:
            return BatchResult(0, 0)
        if len(members) > BATCH_MEMBERS:
            raise ValueError(f"at most {BATCH_MEMBERS} members in a batch")
        pending = list(members)
        already = 0
        marker = keys.encode_marker(entry.marker())
        for attempt in range(MAX_ATTEMPTS):
            items = self._items(notification_id, partition, pending, members, entry, marker)
            try:
                with translated_errors("deliver a batch"):
                    await self._client.transact_write_items(TransactItems=items)
                return BatchResult(delivered=len(pending), already=already)
            except self._client.exceptions.TransactionCanceledException as error:
                reasons = [
                    r.get("Code", "None") for r in error.response.get("CancellationReasons", [])
                ]
                have = {
                    pending[index // 2]
                    for index, reason in enumerate(reasons[: 2 * len(pending)])
                    if index % 2 == 0 and reason == "ConditionalCheckFailed"
                }
                if have:
                    # Members who already have the entry keep it as it is (their read state too).
                    already += len(have)
                    pending = [member for member in pending if member not in have]
                    continue
                if not {"TransactionConflict", "ThrottlingError"} & set(reasons):
                    raise
            except Unavailable:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
            await backoff(attempt)
        raise Unavailable("DynamoDB kept refusing a delivery batch")

    def _items(
        self,
        notification_id: str,
        partition: str,
        pending: Sequence[str],
        batch: Sequence[str],
        entry: InboxEntry,
        marker: str,
    ) -> list[Any]:
        items: list[Any] = []
        for member in pending:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": codec.entry_to_item(member, entry),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
            items.append(self._state_update(member, "ADD unread :m", marker))
        checkpoint = self._checkpoint_update(notification_id, partition, batch[-1], done=False)
        update = checkpoint["Update"]
        update["UpdateExpression"] += " ADD tgt :t, dlv :d"
        update["ExpressionAttributeValues"].update(
            {":t": codec.n(len(batch)), ":d": codec.n(len(pending))}
        )
        items.append(checkpoint)
        return items

    def _state_update(self, member: str, expression: str, marker: str) -> dict[str, Any]:
        """An update of a member's state item with one marker as ``:m``."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": {keys.PK: codec.s(keys.user_pk(member)), keys.SK: codec.s(keys.STATE_SK)},
                "UpdateExpression": expression,
                "ExpressionAttributeValues": {":m": {"SS": [marker]}},
            }
        }

    def _checkpoint_update(
        self, notification_id: str, partition: str, last: str | None, *, done: bool
    ) -> dict[str, Any]:
        values: dict[str, Any] = {":done": {"BOOL": done}}
        expression = "SET done = :done"
        if last is not None:
            expression += ", #last = :last"
            values[":last"] = codec.s(last)
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {
                keys.PK: codec.s(prep_pk(notification_id)),
                keys.SK: codec.s(f"P#{partition}"),
            },
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        }
        if last is not None:
            update["ExpressionAttributeNames"] = {"#last": "last"}
            # Checkpoints only move forward (a stale worker cannot rewind one).
            update["ConditionExpression"] = "attribute_not_exists(#last) OR #last <= :last"
        return {"Update": update}

    async def delivery_totals(self, notification_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(targeted, delivered) of each notification: the sum over its checkpoints."""
        totals: dict[str, tuple[int, int]] = {}
        for nid in notification_ids:
            targeted = delivered = 0
            params: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "PK = :pk",
                "ExpressionAttributeValues": {":pk": codec.s(prep_pk(nid))},
                "ProjectionExpression": "tgt, dlv",
            }
            while True:
                with translated_errors("read delivery figures"):
                    page = await self._client.query(**params)
                for item in page.get("Items", []):
                    targeted += int(item.get("tgt", {"N": "0"})["N"])
                    delivered += int(item.get("dlv", {"N": "0"})["N"])
                if "LastEvaluatedKey" not in page:
                    break
                params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            totals[nid] = (targeted, delivered)
        return totals

    async def finish_partition(self, notification_id: str, partition: str) -> None:
        update = self._checkpoint_update(notification_id, partition, None, done=True)["Update"]
        with translated_errors("finish a fan-out partition"):
            await self._client.update_item(**update)

    async def remove_entries(
        self, notification_id: str, members: Sequence[str], entry: InboxEntry
    ) -> None:
        """Recall clean-up: the members' entries and markers go (idempotent)."""
        marker = keys.encode_marker(entry.marker())
        for start in range(0, len(members), BATCH_MEMBERS):
            items: list[Any] = []
            for member in members[start : start + BATCH_MEMBERS]:
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
                items.append(self._state_update(member, "DELETE unread :m, pend :m", marker))
            with translated_errors("clean up recalled entries"):
                await self._client.transact_write_items(TransactItems=items)
