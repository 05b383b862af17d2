"""Ledger imports: entries and the point-club read model they change, in one transaction.

A ledger entry is written only if absent (its key holds its id), and the club item only if its
version is the one read, so an entry is counted once whatever reruns or concurrent imports do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.domain.pointclub import ClubRecord, LedgerEntry
from core.errors import Conflict
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.client import translated_errors

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

MAX_ENTRIES = 98  # beside the club item, within the 100 items of a transaction


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
        return codec.club_from_item(item), version

    async def save(
        self,
        user_id: str,
        entries: Sequence[LedgerEntry],
        record: ClubRecord,
        version: int,
    ) -> set[str]:
        """Write the entries and the new club item; the ids of entries already there come back
        (nothing is written then), and ``StaleClub`` if the club item moved meanwhile."""
        club = codec.club_to_item(user_id, record)
        club["ver"] = codec.n(version + 1)
        items: list[Any] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": codec.ledger_to_item(user_id, entry),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
            for entry in entries
        ]
        items.append(
            {
                "Put": {
                    "TableName": self._table,
                    "Item": club,
                    "ConditionExpression": _unchanged(version),
                    "ExpressionAttributeValues": {":v": codec.n(version)},
                }
            }
        )
        try:
            with translated_errors("import ledger entries"):
                await self._client.transact_write_items(TransactItems=items)
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
            present = {
                entries[index].entry_id
                for index, reason in enumerate(reasons[: len(entries)])
                if reason == "ConditionalCheckFailed"
            }
            if present:
                return present
            if len(reasons) > len(entries) and reasons[len(entries)] == "ConditionalCheckFailed":
                raise StaleClub("the point-club status changed meanwhile") from error
            raise
        return set()

    async def save_club(self, user_id: str, record: ClubRecord, version: int) -> None:
        """The club item alone (rank evaluation), if its version is still ``version``."""
        club = codec.club_to_item(user_id, record)
        club["ver"] = codec.n(version + 1)
        try:
            with translated_errors("write the point-club status"):
                await self._client.put_item(
                    TableName=self._table,
                    Item=club,
                    ConditionExpression=_unchanged(version),
                    ExpressionAttributeValues={":v": codec.n(version)},
                )
        except self._client.exceptions.ConditionalCheckFailedException as error:
            raise StaleClub("the point-club status changed meanwhile") from error


def _unchanged(version: int) -> str:
    """The club item is as read: absent or unversioned when read at version 0."""
    return "attribute_not_exists(ver) OR ver = :v" if version == 0 else "ver = :v"
