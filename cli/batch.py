"""The batch jobs: fan-out of notifications, the scheduler's tick, recall clean-up."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from cli.common import load_settings, run_with_container
from cli.progress import JobProgress
from core.errors import InvalidInput
from core.usecases.audience_walk import FanoutReport, ShardSpec
from core.usecases.prepare_due import DueReport

if TYPE_CHECKING:
    from core.bootstrap import Container


def _summary(report: FanoutReport) -> str:
    if report.dry_run:
        kind = "broadcast, stored once: " if report.broadcast else ""
        return f"{report.notification_id}: {kind}audience of {report.audience} members (dry run)"
    if report.broadcast:
        return (
            f"{report.notification_id}: {report.state.value}; broadcast to {report.audience} "
            f"members, stored once (no inbox written); {report.seconds:.1f}s"
        )
    failed = f", {report.failed} failed (retried by the next run)" if report.failed else ""
    return (
        f"{report.notification_id}: {report.state.value}; walked {report.audience} members, "
        f"delivered {report.delivered}, {report.already} had it already{failed}; partitions "
        f"{report.partitions_done}/{report.partitions_total} done; {report.seconds:.1f}s"
    )


def prepare_notification(
    notification_id: str = typer.Argument(..., help="The notification to fan out."),
    user: str | None = typer.Option(None, "--user", help="Only this member (re-delivery)."),
    shard: str | None = typer.Option(
        None, "--shard", help="I/N: this worker's share of the audience, e.g. 0/3."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the audience size only."),
    concurrency: int = typer.Option(
        16, "--concurrency", min=1, max=64, help="Transactions in flight."
    ),
) -> None:
    """Fan a notification out to its audience's inboxes (idempotent, resumable, shardable)."""
    try:
        spec = None if shard is None else ShardSpec.parse(shard)
    except InvalidInput as error:
        raise typer.BadParameter(str(error), param_hint="--shard") from error
    settings = load_settings()

    async def job(container: Container) -> FanoutReport:
        prepare = container.prepare_notification(concurrency)
        with JobProgress(f"prepare {notification_id}") as progress:
            return await prepare.run(
                notification_id,
                only_user=user,
                shard=spec,
                dry_run=dry_run,
                progress=progress.update,
            )

    typer.echo(_summary(run_with_container(settings, job)))


def prepare_due() -> None:
    """Prepare every scheduled notification whose time has come; resume interrupted ones."""
    settings = load_settings()

    async def job(container: Container) -> DueReport:
        with JobProgress("prepare due notifications") as progress:
            return await container.prepare_due().run(lambda _: progress.update)

    due = run_with_container(settings, job)
    for report in due.prepared:
        typer.echo(_summary(report))
    typer.echo(f"{len(due.prepared)} notifications prepared, {len(due.failed)} failed")
    for notification_id, why in due.failed:
        typer.echo(f"error: {notification_id}: {why}", err=True)
    if due.failed:
        raise typer.Exit(1)


def recall_cleanup(
    notification_id: str | None = typer.Argument(
        None, help="One recalled notification; all of them when left out."
    ),
) -> None:
    """Remove recalled notifications' entries from inboxes (they are hidden already)."""
    settings = load_settings()

    async def job(container: Container) -> list[tuple[str, int]]:
        cleanup = container.cleanup_recalled()
        targets = [notification_id] if notification_id else await cleanup.pending()
        done = []
        for target in targets:
            with JobProgress(f"clean up {target}") as progress:
                done.append((target, await cleanup.run(target, progress=progress.update)))
        return done

    for target, members in run_with_container(settings, job):
        typer.echo(f"{target}: cleaned {members} members' inboxes")
