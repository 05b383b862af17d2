"""`pointclub listen`: a member's live inbox events, one JSON line each (a front-end's view, for
demos and for checking a deployment)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import typer

from cli.common import fail, load_settings
from core.auth import DevTokenIssuer
from core.errors import Forbidden
from core.usecases.seed_demo import DEMO_MEMBER

SUBSCRIPTION = (
    "subscription { inboxEvents { seq kind unreadCount ids categories "
    "item { id title category visibleFrom isRead } } }"
)


def listen(
    url: str = typer.Option("ws://127.0.0.1:8000/graphql", "--url", help="The server's /graphql."),
    user: str = typer.Option(DEMO_MEMBER, "--user", help="Member (a development token is made)."),
    token: str | None = typer.Option(None, "--token", help="A token to use instead."),
    locale: str | None = typer.Option(None, "--locale", help="Content locale, like en."),
) -> None:
    """Print a member's live inbox events as they arrive (Ctrl-C stops)."""
    if token is None:
        try:
            token = DevTokenIssuer(load_settings()).issue(user, ttl=timedelta(hours=12))
        except Forbidden as error:
            fail(f"{error}: pass --token")
    try:
        code, reason = asyncio.run(_listen(url, token, locale))
    except KeyboardInterrupt:
        return
    except OSError as error:
        fail(f"cannot connect to {url}: {error}")
    fail(f"the server closed the connection: {code} {reason}")


async def _listen(url: str, token: str, locale: str | None) -> tuple[int | None, str]:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    payload: dict[str, str] = {"authorization": f"Bearer {token}"}
    if locale:
        payload["acceptLanguage"] = locale
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        try:
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            await ws.send(
                json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
            )
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif message["type"] == "next":
                    typer.echo(json.dumps(message["payload"], ensure_ascii=False))
                elif message["type"] in ("error", "complete"):
                    typer.echo(json.dumps(message, ensure_ascii=False), err=True)
        except ConnectionClosed:
            pass
        closed = ws.close_code, ws.close_reason or ""
    return closed
