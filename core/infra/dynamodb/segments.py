"""Segments (``SEGMENT#<name>``) and the members they resolve to.

Rule-based segments resolve through the rank index on club items (``RANK#<code>#<shard>`` in GSI1);
user-list segments store their members as ``SEGMENT#<name>`` / ``M#<shard>#<uid>``. Both are split
into the same 16 member shards, so a fan-out can give each worker a set of shards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from core.domain.segment import Segment, SegmentKind, SegmentRule
from core.errors import Conflict
from core.infra.dynamodb import codec, keys
from core.infra.dynamodb.client import translated_errors
from core.infra.dynamodb.table import GSI1

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient


def list_member_sk(user_id: str) -> str:
    return f"M#{keys.member_shard(user_id):02d}#{user_id}"


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
        """How many members the rule resolves to now (a COUNT over the member index)."""
        counts = await asyncio.gather(
            *(self._count(params) for params in self._member_queries(rule, name, None, count=True))
        )
        return sum(counts)

    async def members(
        self, rule: SegmentRule, name: str | None, shards: Sequence[int] | None = None
    ) -> AsyncIterator[str]:
        """Member ids, streamed a page at a time (never the whole segment in memory)."""
        for params in self._member_queries(rule, name, shards, count=False):
            params = dict(params)
            while True:
                with translated_errors("list segment members"):
                    page = await self._client.query(**params)
                for item in page.get("Items", []):
                    yield item["GSI1SK"]["S"] if "GSI1SK" in item else item["uid"]["S"]
                if "LastEvaluatedKey" not in page:
                    break
                params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _member_queries(
        self, rule: SegmentRule, name: str | None, shards: Sequence[int] | None, *, count: bool
    ) -> list[dict[str, Any]]:
        wanted_shards = list(range(keys.MEMBER_SHARDS)) if shards is None else list(shards)
        queries: list[dict[str, Any]] = []
        if rule.kind is SegmentKind.USER_LIST:
            if name is None:
                raise ValueError("a USER_LIST rule needs its segment name")
            for shard in wanted_shards:
                queries.append(
                    {
                        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
                        "ExpressionAttributeValues": {
                            ":pk": codec.s(keys.segment_pk(name)),
                            ":prefix": codec.s(f"M#{shard:02d}#"),
                        },
                        "ProjectionExpression": "uid",
                    }
                )
        else:
            ranks = self._rank_codes if rule.kind is SegmentKind.ALL_MEMBERS else rule.ranks
            for rank in ranks:
                for shard in wanted_shards:
                    queries.append(
                        {
                            "IndexName": GSI1,
                            "KeyConditionExpression": "GSI1PK = :pk",
                            "ExpressionAttributeValues": {
                                ":pk": codec.s(keys.rank_index_pk(rank, shard))
                            },
                            "ProjectionExpression": "GSI1SK",
                        }
                    )
        for query in queries:
            query["TableName"] = self._table
            if count:
                query.pop("ProjectionExpression")
                query["Select"] = "COUNT"
        return queries

    async def _count(self, params: dict[str, Any]) -> int:
        total = 0
        params = dict(params)
        while True:
            with translated_errors("count segment members"):
                page = await self._client.query(**params)
            total += page.get("Count", 0)
            if "LastEvaluatedKey" not in page:
                return total
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    async def _query_all(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params = {"TableName": self._table, **params}
        while True:
            with translated_errors("query"):
                page = await self._client.query(**params)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
