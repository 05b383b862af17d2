"""Helpers for the live inbox: the app served by uvicorn in this process (WebSockets need a real
server), and a graphql-transport-ws client as a front-end library would speak it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from core.bootstrap import Container
from core.settings import Settings
from resolvers.app import DrainingServer, create_app
from tests.engines import free_port

EVENTS = """subscription {
  inboxEvents { seq kind unreadCount ids categories item { id title isRead } }
}"""


@asynccontextmanager
async def served(settings: Settings, container: Container) -> AsyncIterator[str]:
    """The app on a free loopback port; yields its ``host:port``."""
    port = free_port()
    app = create_app(settings, container=container)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_max_size=settings.max_body_bytes,
        timeout_graceful_shutdown=1,
    )
    server = DrainingServer(config, app)  # as `serve` runs it
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Live:
    """One graphql-transport-ws connection."""

    ws: ClientConnection
    answer_pings: bool = True

    async def init(self, payload: dict[str, Any]) -> dict[str, Any]:
        await self.ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        return await self.message()

    async def subscribe(self, query: str = EVENTS, op: str = "1") -> None:
        await self.ws.send(json.dumps({"id": op, "type": "subscribe", "payload": {"query": query}}))

    async def message(self, seconds: float = 10.0) -> dict[str, Any]:
        """The next message, answering the server's pings on the way (as clients do)."""
        while True:
            async with asyncio.timeout(seconds):
                raw = await self.ws.recv()
            assert isinstance(raw, str), "graphql-transport-ws messages are text frames"
            message: dict[str, Any] = json.loads(raw)
            if message["type"] == "ping" and self.answer_pings:
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            return message

    async def event(self, seconds: float = 10.0) -> dict[str, Any]:
        message = await self.message(seconds)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        event: dict[str, Any] = message["payload"]["data"]["inboxEvents"]
        return event

    async def closed(self, seconds: float = 15.0) -> int:
        """Read until the server closes; the close code."""
        try:
            async with asyncio.timeout(seconds):
                while True:
                    await self.message(seconds)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            return closed.rcvd.code
        except TimeoutError:
            raise AssertionError("the server did not close the connection") from None

    async def refused(self, seconds: float = 15.0) -> int:
        """The close code of a server that closes before sending anything at all."""
        try:
            async with asyncio.timeout(seconds):
                raw = await self.ws.recv()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            return closed.rcvd.code
        raise AssertionError(f"the server sent {raw!r} before closing")

    async def quiet(self, seconds: float) -> None:
        """Nothing arrives for ``seconds`` (pings aside)."""
        try:
            async with asyncio.timeout(seconds):
                message = await self.message(seconds + 1)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message: {message}")


@asynccontextmanager
async def live(host: str, token: str | None = None, **payload: Any) -> AsyncIterator[Live]:
    """A connection, initialised with the token (not when ``token`` is None)."""
    async with connect(f"ws://{host}/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        client = Live(ws)
        if token is not None:
            ack = await client.init({"authorization": f"Bearer {token}", **payload})
            assert ack == {"type": "connection_ack"}, ack
        yield client


async def subscribed(client: Live) -> dict[str, Any]:
    """Subscribe to the inbox events; the SYNC event."""
    await client.subscribe()
    first = await client.event()
    assert first["kind"] == "SYNC", first
    return first
