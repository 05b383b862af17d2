"""`pointclub serve`: the API, on the embedded development store when nothing is configured."""

from __future__ import annotations

import json
import shlex
from datetime import timedelta
from typing import TYPE_CHECKING

import typer
from pydantic import SecretStr

from cli.common import fail, load_settings
from core.infra.embedded import EmbeddedStore
from core.infra.embedded_broker import EmbeddedBroker
from core.settings import Settings
from core.usecases.seed_demo import DEMO_ADMIN, DEMO_MEMBER

if TYPE_CHECKING:
    from core.bootstrap import Container

HOME_QUERY = (
    "{ viewer { userId unreadCount inbox(first: 5) { edges { node { id title isRead visibleFrom } }"
    " pageInfo { hasNextPage endCursor } } pointClub { balance rank { code name }"
    " nextRank { code } pointsToNextRank expiring { amount expiresAt } } } }"
)


def banner(settings: Settings, host: str, port: int, store: str, events: str) -> str:
    member = f"{host}:{port}"
    member_token = ""
    admin_token = ""
    if not settings.is_production:
        from core.auth import DevTokenIssuer

        issuer = DevTokenIssuer(settings)
        member_token = issuer.issue(DEMO_MEMBER, ttl=timedelta(hours=12))
        admin_token = issuer.issue(DEMO_ADMIN, admin=True, ttl=timedelta(hours=12))
    body = json.dumps({"query": HOME_QUERY})
    lines = [
        "",
        "pointclub is starting",
        f"  store:     {store}",
        f"  events:    {events}",
        f"  GraphiQL:  http://{member}/graphql",
        *(
            [f"  member inbox:     http://{member}/", f"  operator console: http://{member}/admin"]
            if settings.web_pages_enabled
            else []
        ),
        f"  demo member: {DEMO_MEMBER}",
        f"  member token (12h): {member_token}",
        f"  admin token  (12h): {admin_token}",
        "",
        "  the member's home screen:",
        f"  curl -s http://{member}/graphql -H 'Content-Type: application/json' \\",
        f"    -H 'Authorization: Bearer {member_token}' \\",
        f"    -d {shlex.quote(body)}",
        "",
        f"  live inbox: ws://{member}/graphql (graphql-transport-ws), subscription {{ inboxEvents "
        "{ seq kind unreadCount ids item { id title } } }",
        "",
    ]
    return "\n".join(lines)


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to bind."),
) -> None:
    """Serve /graphql (with no DynamoDB configured: an embedded store, seeded with demo data)."""
    settings = load_settings()
    embedded: EmbeddedStore | None = None
    broker: EmbeddedBroker | None = None
    try:
        from resolvers.app import create_app, run

        if settings.dynamodb_endpoint is None and not settings.is_production:
            embedded = EmbeddedStore(settings.embedded_port)
            try:
                embedded.start()
            except RuntimeError as error:
                fail(str(error))
            # The console's "publish now" needs prepare-due: on the embedded default, the server
            # runs it itself every 2 s (unless configured otherwise).
            settings = settings.model_copy(
                update={
                    "dynamodb_endpoint": embedded.url,
                    "serve_prepare_due_seconds": settings.serve_prepare_due_seconds or 2.0,
                }
            )
        if settings.redis_url is None and not settings.is_production:
            broker = EmbeddedBroker(settings.embedded_events_port)
            try:
                broker.start()
            except RuntimeError as error:
                fail(str(error))
            settings = settings.model_copy(update={"redis_url": SecretStr(broker.url)})
        store = (
            f"embedded (moto) at {embedded.url}, seeded with demo data"
            if embedded
            else (settings.dynamodb_endpoint or f"AWS DynamoDB ({settings.aws_region})")
        )
        events = (
            f"embedded broker (fakeredis) at {broker.url}"
            if broker
            else ("POINTCLUB_REDIS_URL" if settings.redis_url else "off (no POINTCLUB_REDIS_URL)")
        )

        async def prepare(container: Container) -> None:
            if embedded is not None:
                await container.system.create_table()
                await container.seed_demo()
            typer.echo(banner(settings, host, port, store, events))

        app = create_app(settings, on_startup=prepare)
        run(
            app,
            host=host,
            port=port,
            log_level="info",
            proxy_headers=False,
            server_header=False,
            ws_max_size=settings.max_body_bytes,
        )
    except KeyboardInterrupt:
        # Ctrl-C before uvicorn took over the signal (importing, starting the store): stopping
        # is what was asked, and a clean stop exits 0 (Typer would make it 130).
        typer.echo("stopped", err=True)
    finally:
        if broker is not None:
            broker.stop()
        if embedded is not None:
            embedded.stop()
