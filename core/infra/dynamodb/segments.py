"""Segments (``SEGMENT#<name>``) and the members they resolve to.

Rule-based segments resolve through the rank index on club items (``RANK#<code>#<shard>`` in GSI1);
user-list segments store their members as ``SEGMENT#<name>`` / ``M#<shard>#<uid>``. Both are split
into the same 16 member shards, so a fan-out can give each worker a set of shards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from core.domain.audience import AudiencePartition, member_shard
from core.domain.segment import Segment, SegmentRule, audience_partitions
from core.errors import Conflict
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.batch import batch_write
from core.infra.dynamodb.client import translated_errors
from core.infra.dynamodb.table import GSI1

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient


def list_member_sk(user_id: str) -> str:
    return f"M#{member_shard(user_id):02d}#{user_id}"


class DynamoSegmentStore:
    def __init__(self, client: DynamoDBClient, table: str, rank_codes: Sequence[str]) -> None:
        self._client = client
        self._table = table
        self._rank_codes = tuple(rank_codes)

    async def create(self, segment: Segment) -> None:
        try:
            with translated_errors("create a segment"):
                await self._client.put_item(
                    TableName=self._table,
                    Item=codec.segment_to_item(segment),
                    ConditionExpression="attribute_not_exists(PK)",
                )
        except self._client.exceptions.ConditionalCheckFailedException as error:
            raise Conflict(f"a segment named {segment.name} exists") from error

    async def get(self, name: str) -> Segment | None:
        with translated_errors("read a segment"):
            response = await self._client.get_item(
                TableName=self._table,
                Key={keys.PK: codec.s(keys.segment_pk(name)), keys.SK: codec.s(keys.META_SK)},
                ConsistentRead=True,
            )
        item = response.get("Item")
        return None if item is None else codec.segment_from_item(item)

    async def all(self) -> list[Segment]:
        items = await self._query_all(
            {
                "IndexName": GSI1,
                "KeyConditionExpression": "GSI1PK = :pk",
                "ExpressionAttributeValues": {":pk": codec.s(keys.SEGMENTS_INDEX_PK)},
            }
        )
        return [codec.segment_from_item(item) for item in items]

    async def size(self, rule: SegmentRule, name: str | None = None) -> int:
        """How many members the rule resolves to now: a COUNT of each partition's query."""
        counts = await asyncio.gather(
            *(self._count(partition) for partition in self.partitions(rule, name))
        )
        return sum(counts)

    def partitions(self, rule: SegmentRule, name: str | None) -> list[AudiencePartition]:
        return audience_partitions(rule, name, self._rank_codes)

    async def member_pages(
        self, partition: AudiencePartition, after: str | None, page_size: int = 500
    ) -> AsyncIterator[list[str]]:
        """Member ids of a partition after ``after``, a page at a time (memory stays flat)."""
        params = self._partition_query(partition)
        params["Limit"] = page_size
        if after is not None:
            params["ExclusiveStartKey"] = self._start_after(partition, after)
        async for page in self._pages(params, "list segment members"):
            members = [
                item["uid"]["S"] if "uid" in item else item["GSI1SK"]["S"]
                for item in page.get("Items", [])
            ]
            if members:
                yield members

    def _partition_query(self, partition: AudiencePartition) -> dict[str, Any]:
        """The Query that lists one partition in member-id order."""
        if partition.list_name is not None:
            return {
                "TableName": self._table,
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
                "ExpressionAttributeValues": {
                    ":pk": codec.s(keys.segment_pk(partition.list_name)),
                    ":prefix": codec.s(f"M#{partition.shard:02d}#"),
                },
                "ProjectionExpression": "uid",
                "ConsistentRead": True,
            }
        assert partition.rank is not None
        return {
            "TableName": self._table,
            "IndexName": GSI1,
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": {
                ":pk": codec.s(keys.rank_index_pk(partition.rank, partition.shard))
            },
            "ProjectionExpression": "GSI1SK",
        }

    def _start_after(self, partition: AudiencePartition, member: str) -> dict[str, Any]:
        if partition.list_name is not None:
            return {
                keys.PK: codec.s(keys.segment_pk(partition.list_name)),
                keys.SK: codec.s(list_member_sk(member)),
            }
        assert partition.rank is not None
        return {
            "GSI1PK": codec.s(keys.rank_index_pk(partition.rank, partition.shard)),
            "GSI1SK": codec.s(member),
            keys.PK: codec.s(keys.user_pk(member)),
            keys.SK: codec.s(keys.CLUB_SK),
        }

    async def _pages(self, params: dict[str, Any], action: str) -> AsyncIterator[dict[str, Any]]:
        """Every page of a Query, following LastEvaluatedKey."""
        params = dict(params)
        while True:
            with translated_errors(action):
                page = await self._client.query(**params)
            yield dict(page)
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    async def add_list_members(self, name: str, user_ids: Sequence[str]) -> None:
        """Store user-list members (BatchWriteItem, 25 a call, unprocessed items retried)."""
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        keys.PK: codec.s(keys.segment_pk(name)),
                        keys.SK: codec.s(list_member_sk(uid)),
                        "uid": codec.s(uid),
                    }
                }
            }
            for uid in dict.fromkeys(user_ids)
        ]
        await batch_write(self._client, self._table, requests)

    async def put(self, segment: Segment) -> None:
        with translated_errors("write a segment"):
            await self._client.put_item(TableName=self._table, Item=codec.segment_to_item(segment))

    async def partition_size(self, partition: AudiencePartition) -> int:
        return await self._count(partition)

    async def _count(self, partition: AudiencePartition) -> int:
        params = self._partition_query(partition)
        params.pop("ProjectionExpression")
        params["Select"] = "COUNT"
        return sum([page.get("Count", 0) async for page in self._pages(params, "count members")])

    async def _query_all(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        pages = self._pages({"TableName": self._table, **params}, "query")
        return [item async for page in pages for item in page.get("Items", [])]
