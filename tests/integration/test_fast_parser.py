"""The fast response parser gives exactly what botocore's parser gives, for every operation it
takes over, and leaves errors and binary values to botocore."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiobotocore.parsers import AioResponseParserFactory

from core.bootstrap import Container, open_container
from core.infra.dynamodb.fast_parser import FastParserFactory
from core.settings import Settings
from tests.builders import dynamo, notification, publish
from tests.fakes import FakeClock

pytestmark = pytest.mark.integration


async def both(container: Container, operation: str, **params: Any) -> tuple[Any, Any]:
    client: Any = dynamo(container)
    endpoint = client._endpoint
    results = []
    for factory in (AioResponseParserFactory(), FastParserFactory()):
        endpoint._response_parser_factory = factory
        try:
            results.append(await getattr(client, operation)(**params))
        except Exception as error:
            results.append((type(error).__name__, str(error)))
    endpoint._response_parser_factory = FastParserFactory()
    for result in results:
        if isinstance(result, dict):
            result.get("ResponseMetadata", {}).pop("HTTPHeaders", None)
            result.get("ResponseMetadata", {}).pop("RetryAttempts", None)
            result.get("ResponseMetadata", {}).pop("RequestId", None)
    return results[0], results[1]


async def test_the_process_client_uses_the_fast_parser(settings: Settings) -> None:
    async with open_container(settings) as container:
        factory = dynamo(container)._endpoint._response_parser_factory  # type: ignore[attr-defined]
        assert isinstance(factory, FastParserFactory)


async def test_fast_and_botocore_parsers_agree(container: Container, clock: FakeClock) -> None:
    item = notification("n1", visible_from=clock.now() - timedelta(hours=1), en="Hello")
    await publish(container.notifications, container.members, item, ["alice", "bob"], clock.now())
    table = container.settings.table_name
    key = {"PK": {"S": "NOTIF#n1"}, "SK": {"S": "META"}}
    cases: list[tuple[str, dict[str, Any]]] = [
        ("get_item", {"TableName": table, "Key": key, "ConsistentRead": True}),
        ("get_item", {"TableName": table, "Key": {"PK": {"S": "none"}, "SK": {"S": "none"}}}),
        ("batch_get_item", {"RequestItems": {table: {"Keys": [key]}}}),
        (
            "query",
            {
                "TableName": table,
                "KeyConditionExpression": "PK = :p",
                "ExpressionAttributeValues": {":p": {"S": "USER#alice"}},
            },
        ),
        (
            "query",
            {
                "TableName": table,
                "KeyConditionExpression": "PK = :p",
                "Select": "COUNT",
                "ExpressionAttributeValues": {":p": {"S": "USER#alice"}},
            },
        ),
        ("scan", {"TableName": table, "Limit": 3}),
        (
            "update_item",
            {
                "TableName": table,
                "Key": key,
                "UpdateExpression": "SET x = :x",
                "ExpressionAttributeValues": {":x": {"N": "1"}},
                "ReturnValues": "ALL_NEW",
            },
        ),
        (
            "put_item",
            {
                "TableName": table,
                "Item": {"PK": {"S": "b"}, "SK": {"S": "b"}, "blob": {"B": b"\x00\x01"}},
            },
        ),
        ("get_item", {"TableName": table, "Key": {"PK": {"S": "b"}, "SK": {"S": "b"}}}),
        ("get_item", {"TableName": "no-such-table", "Key": key}),
    ]
    for operation, params in cases:
        slow, fast = await both(container, operation, **params)
        assert fast == slow, operation
    blob = await dynamo(container).get_item(
        TableName=table, Key={"PK": {"S": "b"}, "SK": {"S": "b"}}
    )
    assert blob["Item"]["blob"]["B"] == b"\x00\x01"
