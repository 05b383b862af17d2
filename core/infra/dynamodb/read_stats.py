"""Per-notification read counters: sharded, and fed exactly once per member and notification.

A read enters the member's ``pend`` set in the same write that removes its unread marker. Counting
moves it from there to a counter shard in one transaction that also stamps ``cnt`` on the member's
entry under the condition that it has none (for a broadcast: puts the member's claim of having
read it, ``USER#<uid>`` / ``CNT#<nid>``, under the condition that it is absent), so a read is
counted at most once, whatever retries, re-reads or concurrent counters happen. Counter items
are ``NOTIF#<nid>`` / ``READS#<k>`` with a random ``k``: a million members reading one
notification in an hour spread over the shards.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.domain.inbox import UnreadMarker
from core.domain.missions import GoalKind, Mission, advances
from core.domain.time import iso_key
from core.errors import Unavailable
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.batch import MAX_ATTEMPTS, backoff, batch_get, chunks, index_members
from core.infra.dynamodb.client import cancellation_reasons, is_contention, translated_errors
from core.infra.dynamodb.mission_codec import progress_update
from core.infra.dynamodb.read_state import PENDING_INDEX_SHARDS

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

READ_COUNTER_SHARDS = 32
COUNT_CHUNK = 49  # two items per read, the state item and the mission progress: 100


def read_counter_sk(shard: int) -> str:
    return f"READS#{shard:02d}"


class DynamoReadStats:
    def __init__(self, client: DynamoDBClient, table: str, now: Any) -> None:
        self._client = client
        self._table = table
        self._now = now  # a callable returning the current instant

    async def count_pending_reads(self, user_id: str, missions: Sequence[Mission] = ()) -> int:
        counted = 0
        for _ in range(1000):
            pending = await self._pending(user_id)
            if not pending:
                await self._leave_pending_index(user_id)
                return counted
            for chunk in chunks(sorted(pending), COUNT_CHUNK):
                counted += await self._count_chunk(user_id, list(chunk), missions)
        return counted

    async def read_counts(self, notification_ids: Sequence[str]) -> Mapping[str, int]:
        wanted = [
            {keys.PK: codec.s(keys.notification_pk(nid)), keys.SK: codec.s(read_counter_sk(shard))}
            for nid in notification_ids
            for shard in range(READ_COUNTER_SHARDS)
        ]
        totals = dict.fromkeys(notification_ids, 0)
        for item in await batch_get(self._client, self._table, wanted, consistent=False):
            nid = item[keys.PK]["S"].removeprefix("NOTIF#")
            totals[nid] = totals.get(nid, 0) + int(item.get("n", {"N": "0"})["N"])
        return totals

    async def members_with_pending_reads(self, shard: int) -> list[str]:
        """Members whose queued reads were not counted yet (a crash between the two steps)."""
        return await index_members(
            self._client, self._table, f"PEND#{shard}", "list members with queued reads"
        )

    @staticmethod
    def pending_shards() -> range:
        return range(PENDING_INDEX_SHARDS)

    async def _pending(self, user_id: str) -> set[str]:
        with translated_errors("read queued reads"):
            response = await self._client.get_item(
                TableName=self._table,
                Key=self._state_key(user_id),
                ConsistentRead=True,
                ProjectionExpression="pend",
            )
        return set(response.get("Item", {}).get("pend", {}).get("SS", []))

    async def _count_chunk(
        self, user_id: str, elements: list[str], missions: Sequence[Mission]
    ) -> int:
        now: datetime = self._now()
        for attempt in range(MAX_ATTEMPTS):
            if not elements:
                return 0
            markers = [keys.decode_marker(element) for element in elements]
            items: list[Any] = []
            for marker in markers:
                items.append(self._stamp_counted(user_id, marker, now))
                items.append(self._increment(marker.notification_id))
            items.append(self._unqueue(user_id, elements))
            # Each read counted here is a read for the missions open now (a last item: 100).
            adds = advances(missions, GoalKind.READ_NOTIFICATIONS, now, len(elements))
            if adds:
                items.append(progress_update(self._table, user_id, adds))
            try:
                with translated_errors("count reads"):
                    await self._client.transact_write_items(TransactItems=items)
                return len(elements)
            except Unavailable as error:
                if not is_contention(error):
                    raise
                await backoff(attempt)
                continue
            except self._client.exceptions.TransactionCanceledException as error:
                reasons = cancellation_reasons(error)
                # Entry stamps sit at even positions: a failed one was counted before (or is gone).
                done = {
                    elements[index // 2]
                    for index, reason in enumerate(reasons[: 2 * len(elements)])
                    if index % 2 == 0 and reason == "ConditionalCheckFailed"
                }
                if done:
                    await self._drop_from_queue(user_id, sorted(done))
                    elements = [element for element in elements if element not in done]
                    continue
                if "TransactionConflict" not in reasons:
                    raise
                await backoff(attempt)
        return 0

    def _state_key(self, user_id: str) -> dict[str, Any]:
        return {keys.PK: codec.s(keys.user_pk(user_id)), keys.SK: codec.s(keys.STATE_SK)}

    def _stamp_counted(self, user_id: str, marker: UnreadMarker, now: datetime) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {
                keys.PK: codec.s(keys.user_pk(user_id)),
                keys.SK: codec.s(keys.entry_sk(marker.visible_from, marker.notification_id)),
            },
            "UpdateExpression": "SET cnt = :now",
            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(cnt)",
            "ExpressionAttributeValues": {":now": codec.s(iso_key(now))},
        }
        if marker.broadcast:
            # A broadcast's read is claimed by an item of its own (``CNT#<nid>``, outside the
            # inbox's key range): the member may have no entry for it (a mark-all read it).
            claim: dict[str, Any] = {
                "TableName": self._table,
                "Item": {
                    keys.PK: codec.s(keys.user_pk(user_id)),
                    keys.SK: codec.s(keys.read_claim_sk(marker.notification_id)),
                    "at": codec.s(iso_key(now)),
                },
                "ConditionExpression": "attribute_not_exists(PK)",
            }
            if marker.expires_at is not None:
                expiry = marker.expires_at + codec.TTL_GRACE
                claim["Item"]["ttl"] = codec.n(int(expiry.timestamp()))
            return {"Put": claim}
        return {"Update": update}

    def _increment(self, notification_id: str) -> dict[str, Any]:
        shard = random.randrange(READ_COUNTER_SHARDS)  # spreads load; not a secret
        return {
            "Update": {
                "TableName": self._table,
                "Key": {
                    keys.PK: codec.s(keys.notification_pk(notification_id)),
                    keys.SK: codec.s(read_counter_sk(shard)),
                },
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": codec.n(1)},
            }
        }

    def _unqueue(self, user_id: str, elements: list[str]) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": self._state_key(user_id),
                "UpdateExpression": "DELETE pend :done",
                "ExpressionAttributeValues": {":done": {"SS": elements}},
            }
        }

    async def _drop_from_queue(self, user_id: str, elements: list[str]) -> None:
        with translated_errors("unqueue counted reads"):
            await self._client.update_item(**self._unqueue(user_id, elements)["Update"])

    async def _leave_pending_index(self, user_id: str) -> None:
        try:
            with translated_errors("leave the queued-reads index"):
                await self._client.update_item(
                    TableName=self._table,
                    Key=self._state_key(user_id),
                    UpdateExpression="REMOVE GSI1PK, GSI1SK",
                    ConditionExpression="attribute_exists(PK) AND attribute_not_exists(pend)",
                )
        except self._client.exceptions.ConditionalCheckFailedException:
            return  # new reads were queued meanwhile, or there is no state: stay listed
