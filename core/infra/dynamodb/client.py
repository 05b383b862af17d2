"""The one aioboto3 DynamoDB client of a process, and the translation of its errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError

from core.errors import Unavailable
from core.infra.dynamodb.fast_parser import install_fast_parser

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

# Errors that mean "the engine did not do it, try later", as opposed to a bug of ours.
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "ResourceNotFoundException",
        "TransactionInProgressException",
    }
)


@dataclass(frozen=True)
class DynamoConfig:
    endpoint_url: str | None
    region: str
    table_name: str
    max_pool_connections: int = 64
    # DynamoDB Local and moto accept any credentials; real AWS takes them from the environment.
    static_credentials: bool = False


@asynccontextmanager
async def open_client(config: DynamoConfig) -> AsyncIterator[DynamoDBClient]:
    """Open the process-wide client; callers keep it for the life of the process or job."""
    session = aioboto3.Session()
    key = "local" if config.static_credentials else None
    boto_config = AioConfig(
        max_pool_connections=config.max_pool_connections,
        connect_timeout=2,
        read_timeout=10,
        retries={"max_attempts": 3, "mode": "standard"},
        tcp_keepalive=True,
        # Client-side validation walks every parameter against the model (about 1 ms of CPU a
        # request in the profile); the requests are built by code, and DynamoDB validates anyway.
        parameter_validation=False,
    )
    async with session.client(
        "dynamodb",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        config=boto_config,
        aws_access_key_id=key,
        aws_secret_access_key=key,
    ) as client:
        install_fast_parser(client)
        yield client


@contextmanager
def translated_errors(action: str) -> Iterator[None]:
    """Turn engine failures into ``Unavailable`` (keeping the cause); let bugs surface as is."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in RETRYABLE_CODES:
            raise Unavailable(f"DynamoDB could not {action} ({code})") from error
        raise
    except (BotoCoreError, OSError) as error:
        raise Unavailable(f"DynamoDB could not {action}: {type(error).__name__}") from error


async def put_item(
    client: DynamoDBClient,
    table: str,
    item: dict[str, Any],
    *,
    only_if_absent: bool,
    action: str,
) -> bool:
    """PutItem, optionally only when no item has the key; True if written."""
    params: dict[str, Any] = {"TableName": table, "Item": item}
    if only_if_absent:
        params["ConditionExpression"] = "attribute_not_exists(PK)"
    try:
        with translated_errors(action):
            await client.put_item(**params)
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True
