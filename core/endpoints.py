"""Where the process's outside services are: DynamoDB, and the broker of live events.

DynamoDB: the configured endpoint, AWS in production, else the embedded store of a
``pointclub serve``. Events: ``POINTCLUB_REDIS_URL``; in development with none configured, the
embedded broker of a ``pointclub serve`` running beside this process (if there is one).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.errors import Unavailable
from core.infra.dynamodb.client import DynamoConfig
from core.infra.embedded import port_open, store_url
from core.infra.embedded_broker import broker_url
from core.infra.event_hub import EventHub
from core.infra.events import EventChannels, NoEvents, RedisEvents, connect
from core.ports import EventFeeds, InboxEvents
from core.settings import Settings


def events_url(settings: Settings) -> str | None:
    """Where live events go (the module's docstring)."""
    if settings.redis_url is not None:
        return settings.redis_url.get_secret_value()
    if settings.is_production or not port_open(settings.embedded_events_port):
        return None
    return broker_url(settings.embedded_events_port)


def event_feeds(settings: Settings) -> EventFeeds:
    """A server's subscriber side (started and stopped by the app's lifespan)."""
    return EventHub(
        events_url(settings),
        EventChannels.for_table(settings.table_name),
        queue_limit=settings.events_queue,
    )


EVENTS_TIMEOUT_SECONDS = 1.0  # a publish waits this long at most; the work it reports goes on


@asynccontextmanager
async def open_events(settings: Settings) -> AsyncIterator[InboxEvents]:
    url = events_url(settings)
    if url is None:
        yield NoEvents()
        return
    events = RedisEvents(
        connect(url, timeout=EVENTS_TIMEOUT_SECONDS), EventChannels.for_table(settings.table_name)
    )
    try:
        yield events
    finally:
        await events.close()


class StoreNotReachable(Unavailable):
    """No DynamoDB endpoint is configured and no embedded store is running."""


def resolve_endpoint(settings: Settings) -> str | None:
    """Where DynamoDB is: the configured endpoint, AWS in production, else the embedded store."""
    if settings.dynamodb_endpoint:
        return settings.dynamodb_endpoint
    if settings.is_production:
        return None
    return store_url(settings.embedded_port)


def require_reachable(settings: Settings) -> None:
    """Fail with a message that says what to do when the development store is not running."""
    if settings.dynamodb_endpoint or settings.is_production:
        return
    if not port_open(settings.embedded_port):
        raise StoreNotReachable(
            f"no DynamoDB at {store_url(settings.embedded_port)}: start the embedded store with "
            "`uv run pointclub serve` in another terminal, or set POINTCLUB_DYNAMODB_ENDPOINT"
        )


def dynamo_config(settings: Settings) -> DynamoConfig:
    endpoint = resolve_endpoint(settings)
    return DynamoConfig(
        endpoint_url=endpoint,
        region=settings.aws_region,
        table_name=settings.table_name,
        max_pool_connections=settings.dynamodb_max_pool_connections,
        static_credentials=endpoint is not None and "AWS_ACCESS_KEY_ID" not in os.environ,
        timeout_seconds=settings.dynamodb_timeout_seconds,
        max_attempts=settings.dynamodb_max_attempts,
    )
