"""`pointclub db …`: create the table and seed demo data; both idempotent."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from cli.common import load_settings, run_with_container

if TYPE_CHECKING:
    from core.bootstrap import Container

app = typer.Typer(help="Table management.", no_args_is_help=True)


@app.command("create-table")
def create_table() -> None:
    """Create the table (keys, index, TTL) if it does not exist."""
    settings = load_settings()

    async def job(container: Container) -> bool:
        return await container.system.create_table()

    created = run_with_container(settings, job)
    state = "created" if created else "already exists"
    typer.echo(f"table {settings.table_name}: {state}")


@app.command("seed-demo")
def seed_demo() -> None:
    """Write demo members, ledgers and notifications (a second run changes nothing)."""
    settings = load_settings()

    async def job(container: Container) -> str:
        await container.system.create_table()
        report = await container.seed_demo()
        return (
            f"seeded {len(report.members)} members ({', '.join(report.members)}); "
            f"{report.delivered} new inbox entries; anchor {report.anchor.isoformat()}"
        )

    typer.echo(run_with_container(settings, job))
