"""`pointclub stats …`: delivery statistics upkeep."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from cli.common import load_settings, run_with_container
from core.usecases import read_counting

if TYPE_CHECKING:
    from core.bootstrap import Container

app = typer.Typer(help="Delivery statistics.", no_args_is_help=True)


@app.command("count-reads")
def count_reads() -> None:
    """Count the reads still queued (the server counts them after each request; this sweeps up
    after a server that stopped first). Idempotent: a read is counted once, whatever reruns."""
    settings = load_settings()

    async def job(container: Container) -> tuple[int, int]:
        members = counted = 0
        for shard in container.read_stats.pending_shards():
            for user_id in await container.read_stats.members_with_pending_reads(shard):
                members += 1
                counted += await read_counting.count_reads(
                    container.read_stats, container.missions, user_id
                )
        return members, counted

    members, counted = run_with_container(settings, job)
    typer.echo(f"counted {counted} queued reads of {members} members")
