"""DynamoDB going away and coming back: UNAVAILABLE, /readyz failing, then serving again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import open_container
from core.settings import Settings
from resolvers.app import create_app, install
from tests.e2e.gql import codes, gql
from tests.engines import free_port, start_moto_on

pytestmark = pytest.mark.e2e


@pytest.fixture
async def offline_app() -> AsyncIterator[tuple[httpx.AsyncClient, int, Settings]]:
    port = free_port()
    settings = Settings(table_name="pointclub", dynamodb_endpoint=f"http://127.0.0.1:{port}")
    async with open_container(settings) as container:
        app = create_app(settings, container=container)
        install(app, container)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, port, settings


async def test_unreachable_dynamodb_is_unavailable_then_recovers(
    offline_app: tuple[httpx.AsyncClient, int, Settings],
) -> None:
    client, port, settings = offline_app
    token = DevTokenIssuer(settings).issue("alice")
    query = (
        "{ viewer { unreadCount inbox(first: 3) { edges { node { id } } } pointClub { balance } } }"
    )

    body = await gql(client, query, token=token)
    assert body["data"] is None
    assert set(codes(body)) == {"UNAVAILABLE"}
    text = str(body)
    for leak in ("Traceback", "botocore", "127.0.0.1", ".py", "Errno"):
        assert leak not in text
    assert (await client.get("/readyz")).status_code == 503
    assert (await client.get("/healthz")).status_code == 200

    engine = start_moto_on(port)
    try:
        async with open_container(settings) as other:
            await other.create_table()
        assert (await client.get("/readyz")).status_code == 200
        body = await gql(client, query, token=token)
        assert "errors" not in body, body
        assert body["data"]["viewer"]["unreadCount"] == 0
    finally:
        engine.stop()
