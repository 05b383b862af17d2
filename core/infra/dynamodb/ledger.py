"""Ledger imports: entries and the point-club read model they change, in one transaction.

Each entry is written with a claim of its id (``LEDGER#<entryId>``, only if absent, holding what
the line said), and the club item only if its version is the one read, so an entry is counted
once whatever reruns, changed lines or concurrent imports do.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from core.domain.pointclub import ClubRecord, EntryClaim, LedgerEntry
from core.errors import Conflict
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.batch import batch_get, batch_write, contended
from core.infra.dynamodb.client import cancellation_reasons, put_item, translated_errors

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

MAX_ENTRIES = 49  # an entry and its id's claim each, beside the club item: 99 of 100
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
        return codec.club_from_item(item), version

    async def save(
        self,
        user_id: str,
        entries: Sequence[LedgerEntry],
        record: ClubRecord,
        version: int,
        run_id: str,
    ) -> dict[str, EntryClaim]:
        """Write the entries, a claim of each id and the new club item; the claims of ids held
        already come back (nothing is written then), and ``StaleClub`` if the club item moved."""
        club = codec.club_to_item(user_id, record)
        club["ver"] = codec.n(version + 1)
        items: list[Any] = []
        for entry in entries:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            **_claim_key(entry.entry_id),
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
                        "TableName": self._table,
                        "Item": codec.ledger_to_item(user_id, entry),
                        # Entries imported before ids were claimed have no claim: their own
                        # item still says they are there.
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
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
            if len(reasons) > 2 * len(entries) and reasons[-1] == "ConditionalCheckFailed":
                raise StaleClub("the point-club status changed meanwhile") from error
            raise
        return {}

    async def put_club(
        self, user_id: str, record: ClubRecord, *, only_if_absent: bool = False
    ) -> bool:
        return await put_item(
            self._client,
            self._table,
            codec.club_to_item(user_id, record),
            only_if_absent=only_if_absent,
            action="write the point-club status",
        )

    async def put_ledger(self, user_id: str, entries: Sequence[LedgerEntry]) -> None:
        requests = [{"PutRequest": {"Item": codec.ledger_to_item(user_id, e)}} for e in entries]
        await batch_write(self._client, self._table, requests)

    async def _claims(self, entry_ids: Sequence[str]) -> dict[str, EntryClaim]:
        found = await batch_get(self._client, self._table, [_claim_key(e) for e in entry_ids])
        return {
            item[keys.PK]["S"].removeprefix(CLAIM_PREFIX): EntryClaim(
                fingerprint=item["fp"]["S"], run_id=item["run"]["S"]
            )
            for item in found
        }

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


def _claim_key(entry_id: str) -> dict[str, Any]:
    """An entry id's claim: one item per id across all members, so an id counts once."""
    return {keys.PK: codec.s(f"{CLAIM_PREFIX}{entry_id}"), keys.SK: codec.s(keys.META_SK)}


def _unchanged(version: int) -> str:
    """The club item is as read: absent or unversioned when read at version 0."""
    return "attribute_not_exists(ver) OR ver = :v" if version == 0 else "ver = :v"
