"""Ledger imports: entries and the point-club read model they change, in one transaction.

Each entry is written with a claim of its id (``LEDGER#<entryId>``, only if absent, holding what
the line said), and the club item only if its version is the one read, so an entry is counted
once whatever reruns, changed lines or concurrent imports do.

Every write that gives a member a rank or changes it also moves the member counts per rank
(``RANKCOUNT#<shard>`` / ``META``, one attribute per rank, the member's own shard of 16) in the
same transaction: a broadcast's audience size is then a read of 16 small items, not of the index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from core.domain.audience import MEMBER_SHARDS, member_shard
from core.domain.pointclub import ClubRecord, EntryClaim, LedgerEntry
from core.errors import Conflict
from core.infra.dynamodb import club_codec, codec, keys
from core.infra.dynamodb.batch import batch_get, batch_write, contended
from core.infra.dynamodb.client import cancellation_reasons, translated_errors
from core.infra.dynamodb.mission_codec import progress_update

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

# An entry and its id's claim each, beside the club item, the counts per rank and the mission
# progress: 99 of 100.
MAX_ENTRIES = 48
CLAIM_PREFIX = "LEDGER#"


class StaleClub(Conflict):
    """The club item changed since it was read: read it again and recompute."""


class DynamoLedgerStore:
    batch_size = MAX_ENTRIES

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def club_for_update(self, user_id: str) -> tuple[ClubRecord | None, int]:
        with translated_errors("read the point-club status"):
            response = await self._client.get_item(
                TableName=self._table,
                Key={keys.PK: codec.s(keys.user_pk(user_id)), keys.SK: codec.s(keys.CLUB_SK)},
                ConsistentRead=True,
            )
        item = response.get("Item")
        version = int(item["ver"]["N"]) if item and "ver" in item else 0
        return club_codec.club_from_item(item), version

    async def save(
        self,
        user_id: str,
        entries: Sequence[LedgerEntry],
        record: ClubRecord,
        version: int,
        run_id: str,
        *,
        rank_was: str | None,
        missions: Mapping[str, int] | None = None,
    ) -> dict[str, EntryClaim]:
        """Write the entries, a claim of each id and the new club item; the claims of ids held
        already come back (nothing is written then), and ``StaleClub`` if the club item moved."""
        items = entry_writes(self._table, user_id, entries, run_id, record, version)
        counts = rank_count_update(self._table, user_id, rank_was, record.rank_code)
        if counts is not None:
            items.append(counts)
        if missions:
            items.append(progress_update(self._table, user_id, missions))
        try:
            write = partial(self._client.transact_write_items, TransactItems=items)
            await contended("import ledger entries", write)
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = cancellation_reasons(error)
            held = {
                entries[index // 2].entry_id: entries[index // 2]
                for index, reason in enumerate(reasons[: 2 * len(entries)])
                if reason == "ConditionalCheckFailed"
            }
            if held:
                claims = await self._claims(list(held))
                for entry_id, entry in held.items():
                    # No claim but the entry is there: imported before claims, the same line.
                    claims.setdefault(entry_id, EntryClaim(entry.fingerprint(user_id), ""))
                return claims
            club_reason = reasons[2 * len(entries)] if len(reasons) > 2 * len(entries) else ""
            if club_reason == "ConditionalCheckFailed":
                raise StaleClub("the point-club status changed meanwhile") from error
            raise
        return {}

    async def put_club(
        self, user_id: str, record: ClubRecord, *, only_if_absent: bool = False
    ) -> bool:
        """Write the record (seeding, tests); with ``only_if_absent`` keep an existing one."""
        for _ in range(10):
            current = None
            if not only_if_absent:
                current, _version = await self.club_for_update(user_id)
            rank_was = current.rank_code if current else None
            item = club_codec.club_to_item(user_id, record)
            put: dict[str, Any] = {"TableName": self._table, "Item": item}
            if current is None:
                put["ConditionExpression"] = "attribute_not_exists(PK)"
            elif rank_was is None:
                put["ConditionExpression"] = "attribute_not_exists(#rank)"
                put["ExpressionAttributeNames"] = {"#rank": "rank"}
            else:
                put["ConditionExpression"] = "#rank = :was"
                put["ExpressionAttributeNames"] = {"#rank": "rank"}
                put["ExpressionAttributeValues"] = {":was": codec.s(rank_was)}
            items: list[Any] = [{"Put": put}]
            counts = rank_count_update(self._table, user_id, rank_was, record.rank_code)
            if counts is not None:
                items.append(counts)
            try:
                write = partial(self._client.transact_write_items, TransactItems=items)
                await contended("write the point-club status", write)
            except self._client.exceptions.TransactionCanceledException as error:
                if cancellation_reasons(error)[:1] != ["ConditionalCheckFailed"]:
                    raise
                if only_if_absent:
                    return False
                continue  # the rank moved between the read and the write: read it again
            return True
        raise Conflict(f"member {user_id}'s status kept changing")

    async def put_ledger(self, user_id: str, entries: Sequence[LedgerEntry]) -> None:
        requests = [
            {"PutRequest": {"Item": club_codec.ledger_to_item(user_id, e)}} for e in entries
        ]
        await batch_write(self._client, self._table, requests)

    async def _claims(self, entry_ids: Sequence[str]) -> dict[str, EntryClaim]:
        found = await batch_get(self._client, self._table, [claim_key(e) for e in entry_ids])
        return {
            item[keys.PK]["S"].removeprefix(CLAIM_PREFIX): EntryClaim(
                fingerprint=item["fp"]["S"], run_id=item["run"]["S"]
            )
            for item in found
        }

    async def save_club(
        self, user_id: str, record: ClubRecord, version: int, *, rank_was: str | None
    ) -> None:
        """The club item alone (rank evaluation), if its version is still ``version``."""
        club = club_codec.club_to_item(user_id, record)
        club["ver"] = codec.n(version + 1)
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": club,
            "ConditionExpression": unchanged_since(version),
            "ExpressionAttributeValues": {":v": codec.n(version)},
        }
        counts = rank_count_update(self._table, user_id, rank_was, record.rank_code)
        try:
            if counts is None:
                await contended(
                    "write the point-club status", partial(self._client.put_item, **put)
                )
                return
            items: list[Any] = [{"Put": put}, counts]
            write = partial(self._client.transact_write_items, TransactItems=items)
            await contended("write the point-club status", write)
        except self._client.exceptions.ConditionalCheckFailedException as error:
            raise StaleClub("the point-club status changed meanwhile") from error
        except self._client.exceptions.TransactionCanceledException as error:
            if cancellation_reasons(error)[:1] == ["ConditionalCheckFailed"]:
                raise StaleClub("the point-club status changed meanwhile") from error
            raise

    async def set_rank_counts(self, shard: int, counts: Mapping[str, int]) -> None:
        item = {**_rank_count_key(shard)}
        item.update({RANK_COUNT_PREFIX + rank: codec.n(n) for rank, n in counts.items()})
        with translated_errors("write the member counts per rank"):
            await self._client.put_item(TableName=self._table, Item=item)

    async def rank_counts(self) -> dict[str, int]:
        """Members per rank: the sum of the 16 count shards (one BatchGetItem)."""
        wanted = [_rank_count_key(shard) for shard in range(MEMBER_SHARDS)]
        totals: dict[str, int] = {}
        for item in await batch_get(self._client, self._table, wanted):
            for name, value in item.items():
                if name.startswith(RANK_COUNT_PREFIX):
                    rank = name.removeprefix(RANK_COUNT_PREFIX)
                    totals[rank] = totals.get(rank, 0) + int(value["N"])
        return {rank: count for rank, count in totals.items() if count}


RANK_COUNT_PREFIX = "n:"


def _rank_count_key(shard: int) -> dict[str, Any]:
    return {keys.PK: codec.s(keys.rank_count_pk(shard)), keys.SK: codec.s(keys.META_SK)}


def rank_count_update(
    table: str, user_id: str, rank_was: str | None, rank: str | None
) -> dict[str, Any] | None:
    """The count update of a member whose rank goes from ``rank_was`` to ``rank`` (None: no
    rank), in the member's shard; None when nothing moves."""
    if rank_was == rank:
        return None
    adds, names, values = [], {}, {}
    if rank is not None:
        adds.append("#new :one")
        names["#new"] = RANK_COUNT_PREFIX + rank
        values[":one"] = codec.n(1)
    if rank_was is not None:
        adds.append("#old :minus")
        names["#old"] = RANK_COUNT_PREFIX + rank_was
        values[":minus"] = codec.n(-1)
    return {
        "Update": {
            "TableName": table,
            "Key": _rank_count_key(member_shard(user_id)),
            "UpdateExpression": "ADD " + ", ".join(adds),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def claim_key(entry_id: str) -> dict[str, Any]:
    """An entry id's claim: one item per id across all members, so an id counts once."""
    return {keys.PK: codec.s(f"{CLAIM_PREFIX}{entry_id}"), keys.SK: codec.s(keys.META_SK)}


def unchanged_since(version: int) -> str:
    """The club item is as read: absent or unversioned when read at version 0."""
    return "attribute_not_exists(ver) OR ver = :v" if version == 0 else "ver = :v"


def entry_writes(
    table: str,
    user_id: str,
    entries: Sequence[LedgerEntry],
    run_id: str,
    record: ClubRecord,
    version: int,
) -> list[Any]:
    """A transaction's items: each entry's claim and the entry (at 2i and 2i+1), then the club
    item if it is still at ``version``."""
    club = club_codec.club_to_item(user_id, record)
    club["ver"] = codec.n(version + 1)
    items: list[Any] = []
    for entry in entries:
        items.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": {
                        **claim_key(entry.entry_id),
                        "uid": codec.s(user_id),
                        "fp": codec.s(entry.fingerprint(user_id)),
                        "run": codec.s(run_id),
                    },
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        )
        items.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": club_codec.ledger_to_item(user_id, entry),
                    # Entries imported before ids were claimed have no claim: their own
                    # item still says they are there.
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        )
    items.append(
        {
            "Put": {
                "TableName": table,
                "Item": club,
                "ConditionExpression": unchanged_since(version),
                "ExpressionAttributeValues": {":v": codec.n(version)},
            }
        }
    )
    return items
