"""The `pointclub` Typer app: every command, each in its own module."""

from __future__ import annotations

from datetime import timedelta

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
    check: bool = typer.Option(
        False, "--check", help="Exit 1 if a file is not what the operations give."
    ),
) -> None:
    """Build the trusted-documents manifests from the clients' operations: config/operations
    (against the public schema) and config/admin-operations (the operator console's, against the
    admin schema), and the web pages' web/js/documents.js; the server accepts their sha256 and,
    in trusted-only mode, nothing else."""
    from resolvers.trusted import client_files

    try:
        files = client_files(PROJECT_ROOT)
    except ValueError as error:
        fail(str(error), code=2)
    stale = [
        path
        for path, text in files.items()
        if (path.read_text(encoding="utf-8") if path.is_file() else "") != text
    ]
    if check:
        if stale:
            names = ", ".join(str(path.relative_to(PROJECT_ROOT)) for path in stale)
            fail(f"{names} out of date: run `uv run pointclub trusted-documents`")
        typer.echo("the manifests and web/js/documents.js are up to date")
        return
    for path in stale:
        path.write_text(files[path], encoding="utf-8")
        typer.echo(f"wrote {path.relative_to(PROJECT_ROOT)}")
    typer.echo(f"{len(files) - len(stale)} files were up to date")


@app.command("export-schema")
def export_schema(
    admin: bool = typer.Option(False, "--admin", help="The admin schema (admin.graphql)."),
) -> None:
    """Print the GraphQL SDL: public (schema.graphql) or admin (admin.graphql)."""
    from resolvers.app import admin_schema, public_schema

    typer.echo(str(admin_schema() if admin else public_schema()))
