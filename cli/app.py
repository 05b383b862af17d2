"""The `pointclub` Typer app: every command, each in its own module."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import typer

from cli import batch, db, missions, points, segments, stats
from cli.common import fail, load_settings, parse_duration
from cli.listen import listen
from cli.serve import serve
from core.auth import DevTokenIssuer
from core.errors import Forbidden
from core.settings import PROJECT_ROOT

app = typer.Typer(
    name="pointclub",
    help="pointclub: the points-club backend (API server and batch jobs).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("serve")(serve)
app.add_typer(db.app, name="db")
app.add_typer(stats.app, name="stats")
app.add_typer(segments.app, name="segments")
app.add_typer(points.points, name="points")
app.add_typer(points.ranks, name="ranks")
app.add_typer(missions.app, name="missions")
app.command("prepare-notification")(batch.prepare_notification)
app.command("prepare-due")(batch.prepare_due)
app.command("recall-cleanup")(batch.recall_cleanup)
app.command("listen")(listen)


@app.command("token")
def token(
    user: str = typer.Option(..., "--user", help="Member id (the token's `sub`)."),
    admin: bool = typer.Option(False, "--admin", help="Add the admin role."),
    ttl: str = typer.Option("1h", "--ttl", help="Lifetime, like 30m, 1h or 7d."),
    locale: str | None = typer.Option(None, "--locale", help="Preferred locale claim."),
) -> None:
    """Print a signed development token (refused in production)."""
    settings = load_settings()
    lifetime: timedelta = parse_duration(ttl)
    try:
        typer.echo(DevTokenIssuer(settings).issue(user, admin=admin, ttl=lifetime, locale=locale))
    except Forbidden as error:
        fail(str(error))
    except ValueError as error:
        fail(str(error), code=2)


@app.command("trusted-documents")
def trusted_documents(
    operations: Path = typer.Option(
        PROJECT_ROOT / "config" / "operations",
        "--operations",
        help="The clients' operations: one named operation a *.graphql file.",
    ),
    output: Path = typer.Option(
        PROJECT_ROOT / "config" / "trusted-documents.json", "--output", help="The manifest."
    ),
    check: bool = typer.Option(
        False, "--check", help="Exit 1 if the manifest is not what the operations give."
    ),
) -> None:
    """Build the trusted-documents manifest from the clients' operations (validated against the
    public schema); the server accepts their sha256 and, in trusted-only mode, nothing else."""
    from resolvers.app import public_schema
    from resolvers.trusted import build_manifest, manifest_text

    try:
        manifest = build_manifest(operations, public_schema()._schema)
    except ValueError as error:
        fail(str(error), code=2)
    text = manifest_text(manifest)
    if check:
        current = output.read_text(encoding="utf-8") if output.is_file() else ""
        if current != text:
            fail(f"{output} is out of date: run `uv run pointclub trusted-documents`")
        typer.echo(f"{output} is up to date")
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output} ({len(manifest['operations'])} operations)")


@app.command("export-schema")
def export_schema(
    admin: bool = typer.Option(False, "--admin", help="The admin schema (admin.graphql)."),
) -> None:
    """Print the GraphQL SDL: public (schema.graphql) or admin (admin.graphql)."""
    from resolvers.app import admin_schema, public_schema

    typer.echo(str(admin_schema() if admin else public_schema()))
