"""The process client's shortcuts on botocore's request path send what botocore would send."""

from __future__ import annotations

import json
from typing import Any

import aioboto3
import pytest
from aiobotocore.config import AioConfig

from core.bootstrap import Container
from core.infra.dynamodb.request_path import MemoizedUserAgent, OrjsonSerializer
from tests.builders import dynamo

pytestmark = pytest.mark.integration


def recording(client: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    def before_send(request: Any, **_: Any) -> None:
        sent.append({k.lower(): v for k, v in request.headers.items()} | {"body": request.body})

    client.meta.events.register("before-send.dynamodb.*", before_send)
    return sent


async def calls(client: Any, table: str) -> None:
    key = {"PK": {"S": "none"}, "SK": {"S": "none"}}
    odd = {"S": 'ユニコード \u2028 "quoted" \\ \x00'}
    await client.put_item(
        TableName=table,
        Item={**key, "n": {"N": "12.50"}, "t": odd, "b": {"B": b"\x00\xff"}, "l": {"L": [odd]}},
    )
    await client.get_item(TableName=table, Key=key, ConsistentRead=True)
    await client.batch_get_item(RequestItems={table: {"Keys": [key]}})
    await client.query(
        TableName=table,
        KeyConditionExpression="PK = :p",
        ExpressionAttributeValues={":p": {"S": "none"}},
    )
    await client.get_item(TableName=table, Key=key)


async def test_the_user_agent_is_botocores_own_made_once(container: Container) -> None:
    client: Any = dynamo(container)
    assert isinstance(client._user_agent_creator, MemoizedUserAgent)
    table = container.settings.table_name
    # The same configuration as core.infra.dynamodb.client.open_client, without the shortcut.
    config = AioConfig(
        max_pool_connections=64,
        connect_timeout=client.meta.config.connect_timeout,
        read_timeout=client.meta.config.read_timeout,
        retries={"max_attempts": 3, "mode": "standard"},
        tcp_keepalive=True,
        parameter_validation=False,
    )
    async with aioboto3.Session().client(
        "dynamodb",
        endpoint_url=client.meta.endpoint_url,
        region_name=client.meta.region_name,
        config=config,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ) as plain:
        assert not isinstance(plain._user_agent_creator, MemoizedUserAgent)  # type: ignore[attr-defined]
        ours, theirs = recording(client), recording(plain)
        await calls(client, table)
        await calls(plain, table)
    assert len(ours) == len(theirs) == 5
    assert [h["user-agent"] for h in ours] == [h["user-agent"] for h in theirs]
    # The same request: body (one JSON value, whatever its spacing), target and content type.
    assert [json.loads(h["body"]) for h in ours] == [json.loads(h["body"]) for h in theirs]
    for header in ("x-amz-target", "content-type"):
        assert [h[header] for h in ours] == [h[header] for h in theirs]
    assert isinstance(client._serializer, OrjsonSerializer)
    assert all(b" m/" in h["user-agent"] for h in ours)  # the call's features are in it
