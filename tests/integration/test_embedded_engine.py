"""The embedded store's engine (moto, made linear by core/infra/embedded_engine.py): a cancelled
transaction puts back exactly what it touched, and transactions and queries cost the items they
concern, not the table. Each test starts its own embedded store, whatever the session's engine."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from core.infra.dynamodb.batch import chunks
from core.infra.dynamodb.client import DynamoConfig, open_client
from core.infra.dynamodb.table import GSI1, create_table
from tests.engines import free_port, start_moto_on

pytestmark = pytest.mark.integration

TABLE = "embedded"


@pytest.fixture
async def client() -> AsyncIterator[Any]:
    engine = start_moto_on(free_port())
    config = DynamoConfig(engine.url, "ap-northeast-1", TABLE, static_credentials=True)
    try:
        async with open_client(config) as opened:
            await create_table(opened, TABLE)
            yield opened
    finally:
        engine.stop()


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


async def fill(client: Any, count: int, prefix: str = "bulk") -> None:
    """``count`` items in ``count // 100`` partitions, each also on the index."""
    items = [
        {
            **key(f"{prefix}#{n // 100}", f"item#{n:06d}"),
            "GSI1PK": {"S": f"{prefix}-index#{n % 10}"},
            "GSI1SK": {"S": f"{n:06d}"},
            "pad": {"S": "x" * 200},
        }
        for n in range(count)
    ]
    for chunk in chunks(items, 25):
        request = [{"PutRequest": {"Item": item}} for item in chunk]
        await client.batch_write_item(RequestItems={TABLE: request})


async def test_a_cancelled_transaction_puts_back_exactly_what_it_touched(client: Any) -> None:
    await client.put_item(TableName=TABLE, Item={**key("a", "1"), "n": {"N": "1"}})
    await client.put_item(TableName=TABLE, Item={**key("a", "2"), "tag": {"S": "keep"}})
    await client.put_item(TableName=TABLE, Item={**key("other", "x"), "n": {"N": "7"}})

    with pytest.raises(ClientError) as raised:
        await client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**key("a", "new"), "v": {"S": "v"}}}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": key("a", "1"),
                        "UpdateExpression": "ADD n :one SET s = :s",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":s": {"SS": ["m"]}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": key("a", "2")}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": key("other", "x"),
                        "ConditionExpression": "n = :eight",
                        "ExpressionAttributeValues": {":eight": {"N": "8"}},
                    }
                },
            ]
        )
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]

    page = await client.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "a"}},
    )
    assert page["Items"] == [
        {**key("a", "1"), "n": {"N": "1"}},
        {**key("a", "2"), "tag": {"S": "keep"}},
    ]

    # The same transaction with the condition met commits every part.
    await client.put_item(TableName=TABLE, Item={**key("other", "x"), "n": {"N": "8"}})
    await client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {**key("a", "new"), "v": {"S": "v"}}}},
            {"Delete": {"TableName": TABLE, "Key": key("a", "2")}},
        ]
    )
    page = await client.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "a"}},
    )
    assert [item["SK"]["S"] for item in page["Items"]] == ["1", "new"]


async def test_two_operations_on_one_item_are_refused_and_change_nothing(client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        await client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**key("b", "1"), "v": {"S": "first"}}}},
                {"Put": {"TableName": TABLE, "Item": {**key("b", "1"), "v": {"S": "again"}}}},
            ]
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    found = await client.get_item(TableName=TABLE, Key=key("b", "1"))
    assert "Item" not in found


async def test_concurrent_transactions_on_one_item_lose_no_update(client: Any) -> None:
    async def bump(n: int) -> None:
        await client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": key("counter", "c"),
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": TABLE, "Item": key("counter", f"log#{n:03d}")}},
            ]
        )

    await asyncio.gather(*(bump(n) for n in range(200)))
    found = await client.get_item(TableName=TABLE, Key=key("counter", "c"))
    assert found["Item"]["n"] == {"N": "200"}


async def timed(action: Any, repeats: int) -> float:
    started = time.perf_counter()
    for n in range(repeats):
        await action(n)
    return time.perf_counter() - started


async def test_transactions_and_queries_cost_their_items_not_the_table(client: Any) -> None:
    serial = itertools.count()

    async def transaction(_: int) -> None:
        n = next(serial)
        await client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": key(f"t#{n}-{m}", "entry"),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
                for m in range(20)
            ]
        )

    async def query(n: int) -> None:
        page = await client.query(
            TableName=TABLE,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": "small#0"}},
        )
        assert len(page["Items"]) == 100

    async def index_query(n: int) -> None:
        page = await client.query(
            TableName=TABLE,
            IndexName=GSI1,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": {"S": "small-index#1"}},
        )
        assert len(page["Items"]) == 10

    await fill(client, 100, prefix="small")
    small = [await timed(transaction, 30), await timed(query, 30), await timed(index_query, 30)]
    await fill(client, 20_000)
    large = [await timed(transaction, 30), await timed(query, 30), await timed(index_query, 30)]

    # moto as released took several hundred times longer on the larger table for the first two;
    # an index query still reads every item once (about 20 ms for 20,000 here), not sorted.
    assert large[0] < 3 * small[0], (small, large)
    assert large[1] < 3 * small[1], (small, large)
    assert large[2] < 40 * small[2] + 1.5, (small, large)
