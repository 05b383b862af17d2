"""`pointclub missions …`: events the platform reports, and settling what a stopped process left."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.common import fail, load_settings, report_bad_lines, run_with_container
from cli.progress import JobProgress
from core.usecases.mission_events import EventReport, RecordMissionEvents
from core.usecases.missions import Missions, SettleReport

if TYPE_CHECKING:
    from core.bootstrap import Container

app = typer.Typer(help="Mission jobs.", no_args_is_help=True)


def _missions(container: Container) -> Missions:
    if container.missions is None:
        fail("missions need a DynamoDB table")
    assert container.missions is not None
    return container.missions


@app.command("record")
def record(
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        help="JSON Lines: eventId, userId, event, occurredAt.",
    ),
) -> None:
    """Record mission events, streamed and idempotent by eventId: each advances the EVENT
    missions with its name open at its occurredAt, once, and completed missions are rewarded.
    Bad lines are reported with their numbers and skipped (exit 1)."""
    settings = load_settings()

    async def job(container: Container) -> EventReport:
        recorder = RecordMissionEvents(missions=_missions(container), clock=container.clock)
        with file.open("rb") as lines, JobProgress(f"record {file.name}") as progress:
            return await recorder.run(lines, progress=lambda done: progress.update(done, done))

    report = run_with_container(settings, job)
    report_bad_lines(file, report.bad)
    typer.echo(
        f"recorded {report.recorded} events ({report.counted} toward a mission), "
        f"{report.already} were there already, {report.completed} missions completed, "
        f"{len(report.bad)} bad lines"
    )
    if report.bad:
        raise typer.Exit(1)


@app.command("settle")
def settle() -> None:
    """Grant the rewards and send the notices a stopped process left (members whose progress
    moved and was not settled). Idempotent: a reward is granted once, whatever reruns."""
    settings = load_settings()

    async def job(container: Container) -> SettleReport:
        with JobProgress("settle missions") as progress:
            return await _missions(container).settle_due(
                progress=lambda done: progress.update(done, done)
            )

    report = run_with_container(settings, job)
    typer.echo(
        f"settled {report.members} members: {report.completed} missions completed, "
        f"{report.noticed} notices sent, {report.failed} failed"
    )
    if report.failed:
        raise typer.Exit(1)
