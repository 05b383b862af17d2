"""BatchGetItem done right: at most 100 keys a call, unprocessed keys retried with backoff."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import Unavailable
from core.infra.dynamodb.client import is_contention, translated_errors
from core.infra.dynamodb.table import GSI1

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

T = TypeVar("T")
BATCH_GET_LIMIT = 100
MAX_ATTEMPTS = 8
BASE_DELAY = 0.025


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


async def backoff(attempt: int) -> None:
    """Full-jitter exponential backoff (AWS architecture blog), capped at about a second."""
    await asyncio.sleep(random.uniform(0, min(1.0, BASE_DELAY * 2**attempt)))


async def batch_get(
    client: DynamoDBClient,
    table: str,
    keys: Sequence[dict[str, Any]],
    *,
    consistent: bool = True,
) -> list[dict[str, Any]]:
    """Every item found for ``keys`` (duplicates removed), in no particular order."""
    unique = list({(key["PK"]["S"], key["SK"]["S"]): key for key in keys}.values())
    groups = await asyncio.gather(
        *(_get_chunk(client, table, chunk, consistent) for chunk in chunks(unique, BATCH_GET_LIMIT))
    )
    return [item for group in groups for item in group]


async def _get_chunk(
    client: DynamoDBClient, table: str, keys: Sequence[dict[str, Any]], consistent: bool
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = list(keys)
    for attempt in range(MAX_ATTEMPTS):
        with translated_errors("read items"):
            response = await client.batch_get_item(
                RequestItems={table: {"Keys": pending, "ConsistentRead": consistent}}
            )
        found.extend(response.get("Responses", {}).get(table, []))
        unprocessed: Any = response.get("UnprocessedKeys") or {}
        pending = list(unprocessed.get(table, {}).get("Keys", []))
        if not pending:
            return found
        await backoff(attempt)
    raise Unavailable(
        f"DynamoDB left {len(pending)} keys unprocessed after {MAX_ATTEMPTS} attempts"
    )


async def contended(action: str, call: Callable[[], Awaitable[T]]) -> T:
    """``call`` (a write), again with backoff while another transaction holds one of its items
    (DynamoDB answers that at once rather than waiting); anything else is raised as it is."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            with translated_errors(action):
                return await call()
        except Unavailable as error:
            if not is_contention(error) or attempt == MAX_ATTEMPTS - 1:
                raise
        await backoff(attempt)
    raise Unavailable(f"DynamoDB kept refusing to {action}")


BATCH_WRITE_LIMIT = 25


async def batch_write(client: DynamoDBClient, table: str, requests: Sequence[Any]) -> None:
    """BatchWriteItem in calls of 25, unprocessed items retried with backoff."""
    for chunk in chunks(list(requests), BATCH_WRITE_LIMIT):
        pending: Any = {table: list(chunk)}
        for attempt in range(MAX_ATTEMPTS):
            with translated_errors("write items"):
                response = await client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                break
            await backoff(attempt)
        else:
            raise Unavailable("DynamoDB left items unprocessed")


async def index_members(
    client: DynamoDBClient, table: str, partition: str, action: str
) -> list[str]:
    """Every ``GSI1SK`` under ``GSI1PK = partition`` (member ids of a sparse listing), all pages."""
    found: list[str] = []
    params: dict[str, Any] = {
        "TableName": table,
        "IndexName": GSI1,
        "KeyConditionExpression": "GSI1PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": partition}},
        "ProjectionExpression": "GSI1SK",
    }
    while True:
        with translated_errors(action):
            page = await client.query(**params)
        found += [item["GSI1SK"]["S"] for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return found
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
