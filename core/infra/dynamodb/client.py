"""The one aioboto3 DynamoDB client of a process, and the translation of its errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError

from core.errors import Unavailable
from core.infra.dynamodb.fast_parser import install_fast_parser
from core.infra.dynamodb.request_path import encode_with_orjson, memoize_user_agent
from core.observability.dynamodb_spans import trace_calls

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

# Answers that mean "the engine could not do it now, try later", as opposed to a bug of ours or
# a refusal of the request: throttling of every kind (botocore's list, plus what DynamoDB puts in
# a cancelled transaction's reasons), transient failures, and a table that is not there (yet).
# Any 5xx answer counts too, whatever its body says (see ``is_store_failure``).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "ThrottlingError",
        "RequestThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "SlowDown",
        "TransactionInProgressException",
        "PriorRequestNotComplete",
    }
)
# Another transaction holds the item: a write made at the same moment as a fan-out batch that
# checks the notification, say. Over in milliseconds; callers that can retry do (``batch.py``).
CONTENTION_CODES = frozenset({"TransactionConflictException", "TransactionConflict"})
RETRYABLE_CODES = (
    THROTTLING_CODES
    | CONTENTION_CODES
    | {
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ResourceNotFoundException",
    }
)


def cancellation_reasons(error: ClientError) -> list[str]:
    """The code of each item of a cancelled transaction, in request order ("None": fine)."""
    return [r.get("Code") or "None" for r in error.response.get("CancellationReasons", [])]


def is_store_failure(error: ClientError) -> bool:
    """True when the engine failed or throttled, not the request: retrying later may work."""
    response = error.response
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    code = response.get("Error", {}).get("Code", "")
    if status >= 500 or status == 429 or code in RETRYABLE_CODES:
        return True
    if code == "TransactionCanceledException":
        # Throttled or contended items, and nothing else wrong: it may go through later.
        failed = {reason for reason in cancellation_reasons(error) if reason != "None"}
        return bool(failed) and failed <= THROTTLING_CODES | CONTENTION_CODES
    return False


def is_contention(error: BaseException) -> bool:
    """An ``Unavailable`` (or ClientError) that only says another transaction held an item."""
    cause = error.__cause__ if isinstance(error, Unavailable) else error
    if not isinstance(cause, ClientError):
        return False
    code = cause.response.get("Error", {}).get("Code", "")
    if code in CONTENTION_CODES:
        return True
    failed = {reason for reason in cancellation_reasons(cause) if reason != "None"}
    return code == "TransactionCanceledException" and bool(failed) and failed <= CONTENTION_CODES


@dataclass(frozen=True)
class DynamoConfig:
    endpoint_url: str | None
    region: str
    table_name: str
    max_pool_connections: int = 64
    # DynamoDB Local and moto accept any credentials; real AWS takes them from the environment.
    static_credentials: bool = False
    # The longest one call may take, its retries included; past it the call is Unavailable.
    timeout_seconds: float = 10.0
    max_attempts: int = 3

    @property
    def attempt_timeout(self) -> float:
        """How long one attempt may wait for an answer: the attempts share the timeout."""
        return max(0.1, self.timeout_seconds / self.max_attempts)


@asynccontextmanager
async def open_client(config: DynamoConfig) -> AsyncIterator[DynamoDBClient]:
    """Open the process-wide client; callers keep it for the life of the process or job."""
    session = aioboto3.Session()
    key = "local" if config.static_credentials else None
    boto_config = AioConfig(
        max_pool_connections=config.max_pool_connections,
        connect_timeout=min(2.0, config.attempt_timeout),
        read_timeout=config.attempt_timeout,
        # botocore retries 5xx, throttling and broken connections with jittered backoff.
        retries={"max_attempts": config.max_attempts, "mode": "standard"},
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
        memoize_user_agent(client)
        encode_with_orjson(client)
        bound_calls(client, config.timeout_seconds)
        trace_calls(client, config.region)
        yield client


def bound_calls(client: Any, seconds: float) -> None:
    """Every call of ``client`` ends within ``seconds``, retries and backoff included: past
    it the call is cancelled and raises ``TimeoutError`` (which ``translated_errors`` makes
    ``Unavailable``), so a hung engine cannot hold a request or a job."""
    call = client._make_api_call

    async def bounded(operation_name: str, api_params: Any) -> Any:
        async with asyncio.timeout(seconds):
            return await call(operation_name, api_params)

    client._make_api_call = bounded


@contextmanager
def translated_errors(action: str) -> Iterator[None]:
    """Turn engine failures into ``Unavailable`` (keeping the cause); let bugs surface as is."""
    try:
        yield
    except ClientError as error:
        if is_store_failure(error):
            code = error.response.get("Error", {}).get("Code", "")
            raise Unavailable(f"DynamoDB could not {action} ({code or 'no answer'})") from error
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
