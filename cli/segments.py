"""`pointclub segments …`: user-list segments from files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.common import load_settings, report_bad_lines, run_with_container
from cli.progress import JobProgress
from core.usecases.segments import ImportReport

if TYPE_CHECKING:
    from core.bootstrap import Container

app = typer.Typer(help="Segments.", no_args_is_help=True)


@app.command("import-list")
def import_list(
    name: str = typer.Argument(..., help="Segment name (created as USER_LIST if new)."),
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        help="CSV (first column) or one member id per line.",
    ),
    actor: str = typer.Option("cli", "--actor", help="Who imports, for the audit log."),
) -> None:
    """Import a user-list segment, streamed. Bad lines are reported with their numbers and
    skipped; exit 1 if there were any. Importing again adds only what is missing."""
    settings = load_settings()

    async def job(container: Container) -> ImportReport:
        with (
            file.open("rb") as lines,  # a line that is not UTF-8 is one bad line
            JobProgress(f"import {name}") as progress,
        ):
            return await container.import_user_list().run(
                actor, name, lines, progress=lambda done: progress.update(done, done)
            )

    report = run_with_container(settings, job)
    report_bad_lines(file, report.bad)
    typer.echo(
        f"segment {name}: {report.imported} lines imported, {len(report.bad)} bad, "
        f"{report.members} members"
    )
    if report.bad:
        raise typer.Exit(1)
