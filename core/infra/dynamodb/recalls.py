"""The recall list (``RECALLS#<k>`` / ``META``): the ids of recalled notifications, in K copies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.client import translated_errors

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient


def recall_list_updates(table: str, shards: int, operation: str, notification_id: str) -> list[Any]:
    """One transaction's updates that ``ADD`` (or ``DELETE``) the id in every copy at once."""
    return [
        {
            "Update": {
                "TableName": table,
                "Key": {keys.PK: codec.s(keys.recall_pk(shard)), keys.SK: codec.s(keys.META_SK)},
                "UpdateExpression": f"{operation} ids :id",
                "ExpressionAttributeValues": {":id": {"SS": [notification_id]}},
            }
        }
        for shard in range(shards)
    ]


class DynamoRecallStore:
    """The ids of recalled notifications, copied into ``shards`` items so no key runs hot.

    Every member reads one copy (chosen by a hash of the member id) with each inbox read; a
    recall writes all copies in one transaction, so each copy is always complete.
    """

    def __init__(self, client: DynamoDBClient, table: str, shards: int) -> None:
        self._client = client
        self._table = table
        self._shards = shards

    async def recalled_for(self, user_id: str) -> frozenset[str]:
        return await self.recalled_in_shard(keys.recall_shard(user_id, self._shards))

    async def recalled_in_shard(self, shard: int) -> frozenset[str]:
        with translated_errors("read the recall list"):
            response = await self._client.get_item(
                TableName=self._table,
                Key={keys.PK: codec.s(keys.recall_pk(shard)), keys.SK: codec.s(keys.META_SK)},
                ConsistentRead=True,
                ProjectionExpression="ids",
            )
        return frozenset(response.get("Item", {}).get("ids", {}).get("SS", []))

    def shard_of(self, user_id: str) -> int:
        return keys.recall_shard(user_id, self._shards)

    async def add(self, notification_id: str) -> None:
        """Put the id in every copy at once, so no member can still count the notification."""
        await self._update_all("ADD", notification_id)

    async def remove(self, notification_id: str) -> None:
        """Forget a recalled id once its inbox entries are gone."""
        await self._update_all("DELETE", notification_id)

    async def _update_all(self, operation: str, notification_id: str) -> None:
        items = recall_list_updates(self._table, self._shards, operation, notification_id)
        with translated_errors("update the recall list"):
            await self._client.transact_write_items(TransactItems=items)
