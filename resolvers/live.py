"""The live inbox over ``graphql-transport-ws``: who may connect, how long, how fast.

Strawberry runs the protocol; this handler adds what a public endpoint needs around it:

- the member's token is checked on ``connection_init`` as HTTP checks it (4403 before anything
  is sent); the connection closes at the token's ``exp`` with 4001 (connect again with a fresh
  token); at most ``POINTCLUB_WS_MAX_CONNECTIONS_PER_MEMBER`` per member on this process (4029);
- subscriptions only (queries and mutations are HTTP's), at most
  ``POINTCLUB_WS_MAX_SUBSCRIPTIONS_PER_CONNECTION`` each;
- server pings every ``POINTCLUB_WS_PING_SECONDS``; a client that answers nothing for two of
  them is closed (4002); a client that reads too slowly is closed (4008), never buffered;
- text frames (Strawberry would send our encoder's bytes as binary frames).

Close codes (docs/ARCHITECTURE.md, "Live events"): 1001 server stopping, 1013 events or store
unavailable (retry with backoff), 4001 token expired, 4002 no answer to pings, 4008 too slow,
4403 bad token, 4029 too many connections of the member; Strawberry's own 4400, 4401, 4408,
4409, 4429 (a second connection_init).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import structlog
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.websockets import WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)

from core.bootstrap import Container
from resolvers.auth import caller
from resolvers.context import Context, parse_accept_language
from resolvers.live_service import LiveService
from resolvers.trusted import TrustedDocuments, document_hash

log = structlog.get_logger("pointclub.live")

TOKEN_EXPIRED = (4001, "token expired: connect again with a fresh token")
NO_PONG = (4002, "no answer to pings")
TOO_SLOW = (4008, "too slow: events were dropped, reconnect and refetch")
# Not 4429: graphql-ws treats that (the protocol's "too many initialisations") as fatal.
TOO_MANY = (4029, "too many connections for this member")
UNAVAILABLE = (1013, "live events unavailable, retry later")
SEND_SECONDS = 10.0  # a frame the client does not take within this: too slow
CLOSE_SECONDS = 1.0  # a close frame the client does not take within this is given up
MAX_TOKEN_CHARS = 8_192


class LiveConnection(BaseGraphQLTransportWSHandler[Context, None]):
    """One WebSocket on ``/graphql``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context.link = self
        self._live: LiveService = self.context.request.app.state.live
        self._member: str | None = None
        self._closing = False
        self._heard = time.monotonic()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the protocol, around Strawberry's --------------------------------------------------

    async def handle_message(self, message: Message) -> None:
        self._heard = time.monotonic()
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_timed_out:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        payload = message.get("payload") or {}
        if not isinstance(payload, dict):
            await self.websocket.close(code=4400, reason="Invalid connection init payload")
            return
        if self.connection_init_received:
            await self.websocket.close(code=4429, reason="Too many initialisation requests")
            return
        self.connection_init_received = True
        container: Container = self.context.request.app.state.container
        principal, error = caller(_authorization(payload), container.verifier)
        if principal is None:
            why = str(error) if error is not None else "a token is required"
            await self.websocket.close(code=4403, reason=f"Forbidden: {why}"[:120])
            return
        if self._live.hub.status != "ok":
            await self.websocket.close(*UNAVAILABLE)
            return
        if not self._live.admit(principal.user_id):
            log.info("live.refused", reason="connections", user_id=principal.user_id)
            await self.websocket.close(*TOO_MANY)
            return
        self._member = principal.user_id
        self.context.principal = principal
        self.context.auth_error = None
        locales = _locales(payload)
        if locales:
            self.context.locales = locales
        elif not self.context.locales and principal.locale:
            self.context.locales = (principal.locale.lower(),)
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True
        self._start(self._keepalive())
        if principal.expires_at is not None:
            self._start(self._expire(principal.expires_at))
        log.info("live.connected", user_id=principal.user_id, connections=self._live.connections)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: Any = message.get("payload")
        query = payload.get("query") if isinstance(payload, dict) else None
        if (
            self.connection_acknowledged
            and isinstance(query, str)
            and isinstance(message.get("id"), str)
            and message["id"] not in self.operations
        ):
            refusal = self._refusal(query, _name(payload.get("operationName")))
            if refusal is not None:
                await self.send_message(
                    {"id": message["id"], "type": "error", "payload": [refusal.formatted]}
                )
                return
        await super().handle_subscribe(message)

    def _refusal(self, query: str, operation_name: str | None) -> GraphQLError | None:
        trusted: TrustedDocuments | None = getattr(self.view, "trusted", None)
        if trusted is not None and trusted.only and document_hash(query) not in trusted.by_hash:
            # (Strawberry drops the extension's error on a subscription: said here instead.)
            return GraphQLError(
                "only trusted documents are accepted here: send the text of a document in the "
                "manifest",
                extensions={"code": "FORBIDDEN"},
            )
        if _operation_type(query, operation_name) not in (None, "subscription"):
            return GraphQLError(
                "only subscriptions are served over WebSocket: send queries and mutations over "
                "HTTP",
                extensions={"code": "BAD_USER_INPUT"},
            )
        return None

    async def send_message(self, message: Message) -> None:
        # Text frames, as graphql-transport-ws clients expect; a client that does not take a
        # frame in time is too slow.
        text = self.view.encode_json(message)
        data = text.decode(errors="replace") if isinstance(text, bytes) else text
        try:
            async with asyncio.timeout(SEND_SECONDS):
                await self.websocket.ws.send_text(data)  # type: ignore[attr-defined]
        except TimeoutError as error:
            self.close_soon(*TOO_SLOW)
            raise WebSocketDisconnected() from error
        except (WebSocketDisconnect, RuntimeError) as error:
            raise WebSocketDisconnected() from error

    async def handle_task_exception(self, error: Exception) -> None:
        if isinstance(error, WebSocketDisconnected):
            return  # the client went away or was closed: nothing to report
        await super().handle_task_exception(error)

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await super().shutdown()
        if self._member is not None:
            self._live.release(self._member)
            log.info("live.disconnected", user_id=self._member, connections=self._live.connections)
            self._member = None

    # -- closing from the server's side -----------------------------------------------------

    def close_soon(self, code: int, reason: str) -> None:
        """Close with ``code`` (once), from any task, without waiting for it here."""
        if self._closing:
            return
        self._closing = True
        if code in (TOO_SLOW[0], NO_PONG[0]):
            log.warning("live.closed", code=code, reason=reason, user_id=self._member)
        self._live.closing(self._start(self._close(code, reason)))  # a stopping server waits

    async def _close(self, code: int, reason: str) -> None:
        # A client that stopped reading can hold a close forever: give up after a second.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_SECONDS):
                await self.websocket.close(code=code, reason=reason)

    def _start(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _keepalive(self) -> None:
        interval = self._live.ping_seconds
        while not self._closing:
            await asyncio.sleep(interval)
            if time.monotonic() - self._heard > 2 * interval:
                self.close_soon(*NO_PONG)
                return
            with contextlib.suppress(WebSocketDisconnected):
                await self.send_message({"type": "ping"})

    async def _expire(self, at: datetime) -> None:
        await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))
        self.close_soon(*TOKEN_EXPIRED)


def _authorization(payload: dict[str, Any]) -> str | None:
    """``{"authorization": "Bearer <token>"}`` (as the HTTP header), or ``{"token": "<token>"}``."""
    for key in ("authorization", "Authorization"):
        value = payload.get(key)
        if isinstance(value, str) and len(value) <= MAX_TOKEN_CHARS:
            return value
    token = payload.get("token")
    if isinstance(token, str) and len(token) <= MAX_TOKEN_CHARS:
        return f"Bearer {token}"
    return None


def _locales(payload: dict[str, Any]) -> tuple[str, ...]:
    value = payload.get("acceptLanguage")
    return parse_accept_language(value[:200]) if isinstance(value, str) else ()


def _name(value: object) -> str | None:
    return value if isinstance(value, str) else None


@lru_cache(maxsize=64)
def _operation_type(query: str, operation_name: str | None) -> str | None:
    """The operation's type, or None when Strawberry should report the document's error."""
    try:
        document = parse(query, max_tokens=2_000)
    except GraphQLError:
        return None
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    return "subscription" if operation.operation is OperationType.SUBSCRIPTION else "other"
