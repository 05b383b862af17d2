"""Creating the table: idempotent, with TTL on the ``ttl`` attribute."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from core.infra.dynamodb.client import translated_errors

GSI1 = "GSI1"

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient


async def create_table(client: DynamoDBClient, table: str) -> bool:
    """Create the table if it is missing and wait until it is active; True if it was created."""
    created = True
    try:
        with translated_errors("create the table"):
            await client.create_table(
                TableName=table,
                KeySchema=[
                    {"AttributeName": "PK", "KeyType": "HASH"},
                    {"AttributeName": "SK", "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": "PK", "AttributeType": "S"},
                    {"AttributeName": "SK", "AttributeType": "S"},
                    {"AttributeName": "GSI1PK", "AttributeType": "S"},
                    {"AttributeName": "GSI1SK", "AttributeType": "S"},
                ],
                # One overloaded, sparse index for the listings that are not per member:
                # notifications by state, members by rank, segments (see docs/ARCHITECTURE.md).
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": GSI1,
                        "KeySchema": [
                            {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                            {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                BillingMode="PAY_PER_REQUEST",
            )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
        created = False
    for _ in range(120):
        with translated_errors("describe the table"):
            described = await client.describe_table(TableName=table)
        if described["Table"].get("TableStatus") == "ACTIVE":
            break
        await asyncio.sleep(0.5)
    with translated_errors("describe time to live"):
        ttl = await client.describe_time_to_live(TableName=table)
    if ttl.get("TimeToLiveDescription", {}).get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        with translated_errors("enable time to live"):
            await client.update_time_to_live(
                TableName=table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
            )
    return created


async def delete_table(client: DynamoDBClient, table: str) -> None:
    try:
        await client.delete_table(TableName=table)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
