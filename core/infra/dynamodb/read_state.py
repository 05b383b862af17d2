"""Read-state writes: one transaction over the state item and the entries a change touches.

The unread markers live in a string set, so every change is a set operation (``ADD``/``DELETE``)
and applying it twice is the same as once. Markers read by the member also enter the ``pend`` set:
reads waiting to be added to the per-notification counters (``read_stats.py``), exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from core.domain.inbox import InboxEntry
from core.domain.time import iso_key
from core.errors import Unavailable
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.batch import MAX_ATTEMPTS, backoff, contended
from core.infra.dynamodb.client import cancellation_reasons, is_contention, translated_errors
from core.ports import EntryRef, ReadChange

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

MAX_ENTRY_UPDATES = 99
PENDING_INDEX_SHARDS = 16


def pending_index_key(user_id: str) -> str:
    """GSI1 partition of state items with queued reads, spread over a few keys."""
    return f"PEND#{keys.recall_shard(user_id, PENDING_INDEX_SHARDS)}"


class ReadStateWriter:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def apply(self, user_id: str, change: ReadChange, at: datetime) -> None:
        if change.entry_updates > MAX_ENTRY_UPDATES:
            raise ValueError(f"at most {MAX_ENTRY_UPDATES} entry updates in one change")
        if change.unread and (change.read or change.drop):
            raise ValueError("a change either adds markers or removes them")
        for attempt in range(MAX_ATTEMPTS):
            items = self._items(user_id, change, at)
            if not items:
                return
            if len(items) == 1 and not change.entry_updates:
                # The state item alone: a plain update costs half a transaction's write units.
                await contended(
                    "change read state", partial(self._client.update_item, **items[0]["Update"])
                )
                return
            try:
                with translated_errors("change read state"):
                    await self._client.transact_write_items(TransactItems=items)
                return
            except Unavailable as error:
                # A delivery to this member in the same moment holds the state item.
                if not is_contention(error):
                    raise
                await backoff(attempt)
                continue
            except self._client.exceptions.TransactionCanceledException as error:
                reasons = cancellation_reasons(error)
                failed = _failed_entries(change, reasons)
                if failed:
                    # An entry is gone (TTL) or archived meanwhile: apply the rest without it.
                    change = _without(change, failed)
                    continue
                if "TransactionConflict" not in reasons:
                    raise
                await backoff(attempt)
        raise Unavailable("read state is too busy; try again")

    def _items(self, user_id: str, change: ReadChange, at: datetime) -> list[Any]:
        pk = codec.s(keys.user_pk(user_id))
        stamp = codec.s(iso_key(at))
        copies = {entry.notification_id: entry for entry in change.copies}
        items: list[Any] = []
        for ref in change.stamp_read:
            update = self._entry_update(pk, ref, "SET rAt = if_not_exists(rAt, :at)", stamp)
            items.append(_creating(update, copies.get(ref.notification_id)))
        for ref in change.archive:
            expression = "SET aAt = if_not_exists(aAt, :at), rAt = if_not_exists(rAt, :at)"
            update = self._entry_update(pk, ref, expression, stamp)
            items.append(_creating(update, copies.get(ref.notification_id)))
        for ref in change.clear_read:
            update = _creating(
                self._entry_update(pk, ref, "REMOVE rAt", None), copies.get(ref.notification_id)
            )
            clause = update["Update"].get("ConditionExpression")
            guard = "attribute_not_exists(aAt)"
            update["Update"]["ConditionExpression"] = f"{clause} AND {guard}" if clause else guard
            items.append(update)
        state = self._state_update(user_id, change, stamp)
        if state is not None:
            items.append(state)
        return items

    def _entry_update(
        self, pk: dict[str, str], ref: EntryRef, expression: str, stamp: dict[str, str] | None
    ) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {
                keys.PK: pk,
                keys.SK: codec.s(keys.entry_sk(ref.visible_from, ref.notification_id)),
            },
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(PK)",
        }
        if stamp is not None:
            update["ExpressionAttributeValues"] = {":at": stamp}
        return {"Update": update}

    def _state_update(
        self, user_id: str, change: ReadChange, stamp: dict[str, str]
    ) -> dict[str, Any] | None:
        sets: list[str] = []
        adds: list[str] = []
        deletes: list[str] = []
        values: dict[str, Any] = {}
        names: dict[str, str] = {}
        removed = [keys.encode_marker(m) for m in (*change.read, *change.drop)]
        if removed:
            deletes.append("unread :rm")
            values[":rm"] = {"SS": removed}
        if change.read:
            adds.append("pend :rd")
            values[":rd"] = {"SS": [keys.encode_marker(m) for m in change.read]}
            sets += ["GSI1PK = :pq", "GSI1SK = :uid"]
            values[":pq"] = codec.s(pending_index_key(user_id))
            values[":uid"] = codec.s(user_id)
        if change.unread:
            adds.append("unread :ur")
            values[":ur"] = {"SS": [keys.encode_marker(m) for m in change.unread]}
        if change.copies:
            adds.append(f"{codec.OWN_BROADCASTS} :own")
            values[":own"] = {
                "SS": sorted(
                    {codec.encode_own(e.notification_id, e.expires_at) for e in change.copies}
                )
            }
        if change.cover:
            adds.append(f"{codec.READ_BROADCASTS} :cover")
            values[":cover"] = {"SS": sorted({codec.encode_read(*c) for c in change.cover})}
        if change.uncover:
            deletes.append(f"{codec.READ_BROADCASTS} :uncover")
            values[":uncover"] = {"SS": sorted({codec.encode_read(*c) for c in change.uncover})}
        if change.forget:
            deletes.append(f"{codec.OWN_BROADCASTS} :gone")
            values[":gone"] = {"SS": sorted({codec.encode_own(*gone) for gone in change.forget})}
        for index, category in enumerate(change.read_all):
            names[f"#ra{index}"] = codec.READ_ALL_PREFIX + category
            sets.append(f"#ra{index} = :at")
            values[":at"] = stamp
        if not (sets or adds or deletes):
            return None
        clauses = []
        if sets:
            clauses.append("SET " + ", ".join(sets))
        if adds:
            clauses.append("ADD " + ", ".join(adds))
        if deletes:
            clauses.append("DELETE " + ", ".join(deletes))
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {keys.PK: codec.s(keys.user_pk(user_id)), keys.SK: codec.s(keys.STATE_SK)},
            "UpdateExpression": " ".join(clauses),
            "ExpressionAttributeValues": values,
        }
        if names:
            update["ExpressionAttributeNames"] = names
        return {"Update": update}


def _creating(update: dict[str, Any], copy: InboxEntry | None) -> dict[str, Any]:
    """The entry update, made to create the member's own copy of a broadcast if it is absent:
    every field of the copy is set unless there, and the update no longer needs the item."""
    if copy is None:
        return update
    body = update["Update"]
    sets, values, names = codec.upsert_entry(copy)
    expression: str = body["UpdateExpression"]
    if expression.startswith("SET "):
        expression = "SET " + ", ".join(sets) + ", " + expression.removeprefix("SET ")
    else:
        expression = "SET " + ", ".join(sets) + " " + expression
    body["UpdateExpression"] = expression
    body["ExpressionAttributeValues"] = {**body.get("ExpressionAttributeValues", {}), **values}
    body["ExpressionAttributeNames"] = {**body.get("ExpressionAttributeNames", {}), **names}
    del body["ConditionExpression"]
    return update


def _failed_entries(change: ReadChange, reasons: Sequence[str]) -> set[str]:
    refs = [*change.stamp_read, *change.archive, *change.clear_read]
    return {
        ref.notification_id
        for ref, reason in zip(refs, reasons, strict=False)
        if reason == "ConditionalCheckFailed"
    }


def _without(change: ReadChange, failed: set[str]) -> ReadChange:
    def keep_refs(refs: tuple[EntryRef, ...]) -> tuple[EntryRef, ...]:
        return tuple(ref for ref in refs if ref.notification_id not in failed)

    # A marker is re-added only together with its entry's readAt removal.
    return replace(
        change,
        stamp_read=keep_refs(change.stamp_read),
        archive=keep_refs(change.archive),
        clear_read=keep_refs(change.clear_read),
        unread=tuple(m for m in change.unread if m.notification_id not in failed),
    )
