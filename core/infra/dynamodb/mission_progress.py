"""Members' mission progress (``USER#<uid>`` / ``I~MISSIONS``) and completions.

Progress moves by ``ADD`` in the transaction that carries what counts (an imported ledger entry's
claim, a read's counted stamp, a recorded event's claim), so each counts once; the same update
puts the member on the due index (GSI1 ``MDUE#<shard>``), which settling leaves only if nothing
moved since it read the item. Completion writes the reward entry, its id's claim, the club item
(version-checked) and ``d:<mid>`` (only if absent) in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from core.domain.audience import MEMBER_SHARDS
from core.domain.missions import MemberMissions, Mission
from core.domain.pointclub import ClubRecord, EntryClaim, LedgerEntry
from core.domain.time import iso_key
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.batch import batch_get, contended, index_members
from core.infra.dynamodb.client import cancellation_reasons, translated_errors
from core.infra.dynamodb.ledger import StaleClub, entry_writes, rank_count_update
from core.infra.dynamodb.mission_codec import (
    DONE,
    NOTICED,
    PROGRESS,
    progress_from_item,
    progress_key,
    progress_update,
)

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

MAX_EVENTS = 98  # event claims per transaction, beside the progress item
REWARD_RUN = "mission"
# A listed mission's period starts at most 366 days before its end, which is at most two days
# past (LISTED_AFTER_END): an event older than this can never count again, claimed or not.
EVENT_CLAIM_KEPT = timedelta(days=400)  # the run id a reward's claim records


class DynamoMissionProgress:
    """Members' progress items: progress moved with what counts, completions, the due index."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def progress(self, user_id: str) -> MemberMissions:
        with translated_errors("read mission progress"):
            response = await self._client.get_item(
                TableName=self._table, Key=progress_key(user_id), ConsistentRead=True
            )
        return progress_from_item(response.get("Item"))

    async def record_events(
        self,
        user_id: str,
        events: Sequence[tuple[str, str, datetime]],
        run_id: str,
        adds: Mapping[str, int],
    ) -> dict[str, EntryClaim]:
        """Claim each ``(event id, fingerprint)`` and add ``adds`` to the member's progress, in
        one transaction; the claims of ids held already come back (nothing is written then)."""
        items: list[Any] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        keys.PK: codec.s(keys.mission_event_pk(event_id)),
                        keys.SK: codec.s(keys.META_SK),
                        "uid": codec.s(user_id),
                        "fp": codec.s(fingerprint),
                        "run": codec.s(run_id),
                        # Gone when no listed mission's period can hold the event any more.
                        "ttl": codec.n(int((occurred + EVENT_CLAIM_KEPT).timestamp())),
                    },
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
            for event_id, fingerprint, occurred in events
        ]
        if adds:
            items.append(progress_update(self._table, user_id, adds))
        try:
            write = partial(self._client.transact_write_items, TransactItems=items)
            await contended("record mission events", write)
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = cancellation_reasons(error)
            held = [
                events[index][0]
                for index, reason in enumerate(reasons[: len(events)])
                if reason == "ConditionalCheckFailed"
            ]
            if not held:
                raise
            wanted = [
                {keys.PK: codec.s(keys.mission_event_pk(e)), keys.SK: codec.s(keys.META_SK)}
                for e in held
            ]
            found = await batch_get(self._client, self._table, wanted)
            return {
                item[keys.PK]["S"].removeprefix("MEVENT#"): EntryClaim(
                    item["fp"]["S"], item["run"]["S"]
                )
                for item in found
            }
        return {}

    async def complete(
        self,
        user_id: str,
        mission: Mission,
        entry: LedgerEntry,
        record: ClubRecord,
        version: int,
        *,
        rank_was: str | None,
        at: datetime,
    ) -> bool:
        """Grant the reward and mark the mission completed, at once: False if it was completed
        already. ``StaleClub`` if the club item moved since it was read."""
        items = entry_writes(self._table, user_id, [entry], REWARD_RUN, record, version)
        items.append(self._mark_done(user_id, mission.mission_id, at))
        counts = rank_count_update(self._table, user_id, rank_was, record.rank_code)
        if counts is not None:
            items.append(counts)
        try:
            write = partial(self._client.transact_write_items, TransactItems=items)
            await contended("grant a mission reward", write)
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = [*cancellation_reasons(error), "", "", "", ""]
            if reasons[3] == "ConditionalCheckFailed":
                return False  # completed meanwhile
            if "ConditionalCheckFailed" in reasons[:2]:
                # The reward is in the ledger already: only the mark was missing.
                try:
                    with translated_errors("mark a mission completed"):
                        mark = self._mark_done(user_id, mission.mission_id, at)["Update"]
                        await self._client.update_item(**mark)
                except self._client.exceptions.ConditionalCheckFailedException:
                    pass
                return False
            if reasons[2] == "ConditionalCheckFailed":
                raise StaleClub("the point-club status changed meanwhile") from error
            raise
        return True

    def _mark_done(self, user_id: str, mission_id: str, at: datetime) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": progress_key(user_id),
                "UpdateExpression": "SET #d = :at ADD seq :one",
                "ConditionExpression": "attribute_not_exists(#d)",
                "ExpressionAttributeNames": {"#d": DONE + mission_id},
                "ExpressionAttributeValues": {":at": codec.s(iso_key(at)), ":one": codec.n(1)},
            }
        }

    async def mark_noticed(self, user_id: str, mission_id: str) -> None:
        with translated_errors("mark a mission notice sent"):
            await self._client.update_item(
                TableName=self._table,
                Key=progress_key(user_id),
                UpdateExpression="SET #n = :yes",
                ExpressionAttributeNames={"#n": NOTICED + mission_id},
                ExpressionAttributeValues={":yes": codec.n(1)},
            )

    async def settle(self, user_id: str, seq: int, forget: Sequence[str]) -> bool:
        """Leave the due index (and drop the progress of ``forget``, missions gone), if nothing
        moved since ``seq`` was read; False if something did (settle again)."""
        names = {"#s": "seq"}
        removed = ["GSI1PK", "GSI1SK"]
        for i, mission_id in enumerate(forget):
            for j, prefix in enumerate((PROGRESS, DONE, NOTICED)):
                names[f"#f{i}_{j}"] = prefix + mission_id
                removed.append(f"#f{i}_{j}")
        try:
            with translated_errors("settle mission progress"):
                await self._client.update_item(
                    TableName=self._table,
                    Key=progress_key(user_id),
                    UpdateExpression="REMOVE " + ", ".join(removed),
                    ConditionExpression="attribute_exists(PK) AND #s = :seq",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={":seq": codec.n(seq)},
                )
        except self._client.exceptions.ConditionalCheckFailedException:
            return seq == 0  # no item at all: nothing was due
        return True

    async def members_due(self, shard: int) -> list[str]:
        """Members whose progress moved and was not settled (a stop between the two steps)."""
        return await index_members(
            self._client,
            self._table,
            keys.missions_due_pk(shard),
            "list members with mission progress to settle",
        )

    @staticmethod
    def due_shards() -> range:
        return range(MEMBER_SHARDS)
