"""Table-wide odds and ends: creating the table, the readiness probe and the demo seed's anchor."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from core.domain.time import iso_key, parse_iso
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.client import put_item, translated_errors
from core.infra.dynamodb.table import create_table

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

SEED_PK = "SEED#demo"


class DynamoSystemStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def create_table(self) -> bool:
        """Create the table and its index unless it exists; True if created."""
        return await create_table(self._client, self._table)

    async def ping(self) -> None:
        """Raise ``Unavailable`` unless the table answers."""
        with translated_errors("describe the table"):
            await self._client.describe_table(TableName=self._table)

    async def claim_anchor(self, proposed: datetime) -> datetime:
        item = {
            keys.PK: codec.s(SEED_PK),
            keys.SK: codec.s(keys.META_SK),
            "anchor": codec.s(iso_key(proposed)),
        }
        await put_item(
            self._client, self._table, item, only_if_absent=True, action="record the demo seed"
        )
        with translated_errors("read the demo seed"):
            response = await self._client.get_item(
                TableName=self._table,
                Key={keys.PK: codec.s(SEED_PK), keys.SK: codec.s(keys.META_SK)},
                ConsistentRead=True,
            )
        return parse_iso(response["Item"]["anchor"]["S"])
