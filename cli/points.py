"""`pointclub points …` and `pointclub ranks …`: the point-club jobs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.common import load_settings, parse_duration, report_bad_lines, run_with_container
from cli.progress import JobProgress
from core.errors import InvalidInput
from core.usecases.evaluate_ranks import EvaluationReport, check_month
from core.usecases.ledger_import import LedgerImportReport
from core.usecases.notify_expiring import ExpiryReport

if TYPE_CHECKING:
    from core.bootstrap import Container

points = typer.Typer(help="Point ledger jobs.", no_args_is_help=True)
ranks = typer.Typer(help="Rank jobs.", no_args_is_help=True)


@points.command("import")
def import_ledger(
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        help="JSON Lines: entryId, userId, kind, amount, occurredAt, "
        "expiresAt (EARNED), description.",
    ),
) -> None:
    """Import ledger entries, streamed and idempotent by entryId. Bad lines are reported with
    their numbers and skipped (exit 1); importing again after a fix adds only what is missing."""
    settings = load_settings()

    async def job(container: Container) -> LedgerImportReport:
        # Bytes: a line that is not UTF-8 is reported by its number, not fatal to the import.
        with file.open("rb") as lines, JobProgress(f"import {file.name}") as progress:
            return await container.import_ledger().run(
                lines, progress=lambda done: progress.update(done, done)
            )

    report = run_with_container(settings, job)
    report_bad_lines(file, report.bad)
    typer.echo(
        f"imported {report.imported} entries, {report.already} were there already, "
        f"{len(report.bad)} bad lines"
    )
    if report.bad:
        raise typer.Exit(1)


@points.command("notify-expiring")
def notify_expiring(
    within: str = typer.Option("7d", "--within", help="Window, like 7d or 48h."),
) -> None:
    """One localized notice per member and lot expiring within the window; never twice a lot."""
    window = parse_duration(within)
    settings = load_settings()

    async def job(container: Container) -> ExpiryReport:
        with JobProgress("notify expiring points") as progress:
            return await container.notify_expiring().run(
                window, progress=lambda done: progress.update(done, done)
            )

    report = run_with_container(settings, job)
    typer.echo(
        f"checked {report.members} members: {report.notices} notices sent, "
        f"{report.already} sent before"
    )


@ranks.command("evaluate")
def evaluate(
    month: str = typer.Option(..., "--month", help="The month to set ranks for, YYYY-MM."),
    notify: bool = typer.Option(False, "--notify", help="Tell members whose rank changed."),
) -> None:
    """Set each member's rank for a month from the six JST months before it (idempotent)."""
    try:
        check_month(month)
    except InvalidInput as error:
        raise typer.BadParameter(str(error), param_hint="--month") from error
    settings = load_settings()

    async def job(container: Container) -> EvaluationReport:
        with JobProgress(f"evaluate ranks {month}") as progress:
            return await container.evaluate_ranks().run(
                month, notify=notify, progress=lambda done: progress.update(done, done)
            )

    report = run_with_container(settings, job)
    typer.echo(
        f"{report.month}: evaluated {report.evaluated} members ({report.already} already), "
        f"{report.changed} changed rank, {report.notified} notified"
    )


@ranks.command("recount")
def recount() -> None:
    """Rebuild the member counts per rank (a broadcast's audience size) from the rank index; run
    it once on a table that holds members from before the counts, with no rank job running."""
    settings = load_settings()

    async def job(container: Container) -> dict[str, int]:
        with JobProgress("recount ranks") as progress:
            return await container.recount_ranks().run(progress.update)

    totals = run_with_container(settings, job)
    shown = ", ".join(f"{rank} {count}" for rank, count in sorted(totals.items()))
    typer.echo(f"members per rank: {shown or 'none'}")
