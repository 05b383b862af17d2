"""The Starlette application: ``/graphql``, ``/admin/graphql``, ``/healthz``, ``/readyz``; one
container per process, opened in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from core.bootstrap import Container, open_container
from core.endpoints import event_feeds
from core.heap import freeze_startup_heap
from core.settings import Settings
from resolvers.health import healthz, readyz
from resolvers.limits import BodyLimit, JsonPosts
from resolvers.live_service import LiveService
from resolvers.request_spans import RequestSpans
from resolvers.schemas import Limits, admin_schema, public_schema
from resolvers.trusted import TrustedDocuments
from resolvers.view import PointclubGraphQL
from resolvers.web import web_routes

__all__ = ["PointclubGraphQL", "admin_schema", "create_app", "install", "public_schema"]

Startup = Callable[[Container], Awaitable[None]]
HUB_START_SECONDS = 2.0  # the hub is given this long to connect before the app serves
log = structlog.get_logger("pointclub.serve")
JOBS_STOP_SECONDS = 5.0  # how long a stopping server waits for an in-process job to let go
DRAIN_SECONDS = 1.0  # how long a stopping server waits for its subscriptions to close


def install(app: Starlette, container: Container) -> None:
    """Attach the process-wide dependencies to the app (the lifespan does it; tests may too)."""
    app.state.container = container


def create_app(
    settings: Settings,
    *,
    on_startup: Startup | None = None,
    container: Container | None = None,
) -> Starlette:
    """The ASGI app. It opens its own container in the lifespan unless one is handed in (tests)."""

    @asynccontextmanager
    async def live_events(app: Starlette, opened: Container) -> AsyncIterator[None]:
        hub = event_feeds(settings)
        await hub.start(wait=HUB_START_SECONDS)
        app.state.live = LiveService(opened, hub, settings)
        try:
            yield
        finally:
            await hub.stop()

    @asynccontextmanager
    async def live_events_and_jobs(app: Starlette, opened: Container) -> AsyncIterator[None]:
        every = settings.serve_prepare_due_seconds
        async with live_events(app, opened):
            jobs = None if every is None else asyncio.create_task(prepare_due_every(opened, every))
            try:
                yield
            finally:
                if jobs is not None:  # a run cut short is safe: prepare-due can be killed
                    jobs.cancel()
                    await asyncio.wait({jobs}, timeout=JOBS_STOP_SECONDS)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if container is not None:
            install(app, container)
            async with live_events_and_jobs(app, container):
                yield
            await container.read_counting.drain()
            return
        async with open_container(settings) as opened:
            install(app, opened)
            if on_startup is not None:
                await on_startup(opened)
            async with live_events_and_jobs(app, opened):
                freeze_startup_heap()  # after the last startup object: see core/heap.py
                yield
            await opened.read_counting.drain()

    limits = Limits.of(settings)
    trusted = TrustedDocuments.load(
        settings.trusted_documents_file, only=settings.trusted_documents_only
    )
    public = PointclubGraphQL(
        settings,
        public_schema(settings.is_production, limits, trusted),
        allow_get=True,
        live=True,
        trusted=trusted,
    )
    admin_trusted = TrustedDocuments.load(
        settings.admin_trusted_documents_file, only=settings.admin_trusted_documents_only
    )
    admin_api = PointclubGraphQL(
        settings,
        admin_schema(settings.is_production, limits, admin_trusted),
        allow_get=False,
        trusted=admin_trusted,
    )
    return Starlette(
        middleware=[
            Middleware(RequestSpans),
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
            Middleware(JsonPosts, paths=("/graphql", "/admin/graphql")),
        ],
        routes=[
            Route("/graphql", public, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", public),
            Route("/admin/graphql", admin_api, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *web_routes(settings),
        ],
        lifespan=lifespan,
    )


async def prepare_due_every(
    container: Container, seconds: float, *, longest_wait: float = 60.0
) -> None:
    """``POINTCLUB_SERVE_PREPARE_DUE_SECONDS``: ``prepare-due`` in the server's process, so what
    the console schedules is published with no scheduler running (``serve``'s embedded default).
    A failed run is logged once and retried after a doubling wait (up to ``longest_wait``), so
    a store that is down is neither hammered nor logged every few seconds; recovery is logged.
    Running it in several processes at once is safe (each notification is claimed once)."""
    prepare = container.prepare_due()
    reported: set[tuple[str, str]] = set()  # each failure logged once, not every few seconds
    wait, failing = seconds, 0
    while True:
        await asyncio.sleep(wait)
        try:
            report = await prepare.run(lambda _: None)
        except Exception:
            failing += 1
            if failing == 1:
                log.warning("serve.prepare_due_failed", exc_info=True)
            wait = min(longest_wait, max(seconds, wait * 2))
            continue
        if failing:
            log.info("serve.prepare_due_recovered", failed_runs=failing)
        wait, failing = seconds, 0
        for failure in report.failed:
            if failure not in reported and len(reported) < 1_000:
                reported.add(failure)
                log.warning(
                    "serve.prepare_due_item_failed", notification_id=failure[0], why=failure[1]
                )


class DrainingServer(uvicorn.Server):
    """uvicorn, with the subscriptions told first when it stops.

    On SIGTERM uvicorn closes every open WebSocket with 1012 and no reason before the app's
    lifespan ends, so the hub's ``ServerStopping`` (1001, "server stopping, reconnect": README,
    "Closes") never reached anyone. This ends the feeds first, gives their closes up to
    ``DRAIN_SECONDS`` to go out, then lets uvicorn close what is left (a connection with no
    subscription) as it does."""

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        live: LiveService | None = getattr(self._app.state, "live", None)
        try:
            if live is not None and not self.force_exit:  # a second Ctrl-C: no waiting
                for server in self.servers:  # no new connection while the others are told
                    server.close()
                live.hub.end_feeds()
                await live.closes_sent(DRAIN_SECONDS)
        finally:
            await super().shutdown(sockets)


def run(app: Starlette, **config: Any) -> None:
    """``uvicorn.run`` for one worker on a TCP port (no reload, no unix socket), with the
    ``DrainingServer``: exits 3 if startup failed."""
    server = DrainingServer(uvicorn.Config(app, **config), app)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE
