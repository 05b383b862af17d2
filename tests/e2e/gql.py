"""Helpers to send GraphQL over HTTP as a front-end would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from core.bootstrap import Container
from core.settings import Settings
from resolvers.app import create_app, install

HOME = """
query Home($first: Int!) {
  viewer {
    unreadCount
    inbox(first: $first) { edges { node { id title isRead } } }
    pointClub {
      balance balanceByKind { paid free } nextExpiry { amount expiresAt }
      pending { amount availableAt } rank { code }
      outlook { projectedRank { code } pointsToKeepRank keepRankBy }
      missions(first: 5) { edges { node {
        id title progress goal { kind target } reward completedAt
      } } }
    }
  }
}
"""


@asynccontextmanager
async def app_client(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app built from ``settings`` on ``container``, in process. On the
    way out it waits for the work requests left running (read counting), as the app's lifespan
    does before the container closes: a call made on a closed client would leak its session."""
    app = create_app(settings, container=container)
    install(app, container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await container.read_counting.drain()


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    path: str = "/graphql",
) -> dict[str, Any]:
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    response = await client.post(
        path, json={"query": query, "variables": variables or {}}, headers=sent
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]
