"""Fan-out throughput and memory: `pointclub prepare-notification` to 10,000 and 100,000 members
against the raw BatchWriteItem rate of the same engine for the same items, in one run.

The fan-out runs as the operator runs it (a separate `pointclub` process; its peak RSS comes from
the kernel's accounting of that child). The reference writes the same items a delivery writes
(each member's inbox entry and state item) with plain BatchWriteItem, 24 a call, 16 calls in
flight, into a second table: the fastest the engine takes these items; and delivery's own
operations (conditional entry put, state ADD) in TransactWriteItems of 50 members, into a third.
Both are `bench shapes`'s writers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import container_on, machine, start
from bench.shapes import BATCH_ENTRIES_AND_STATES, TRANSACT_DELIVERY, write_all
from core.bootstrap import Container
from core.domain.audience import DeliveryFigures
from tests.builders import add_members, dynamo, notification_for_all
from tests.engines import Engine

SIZES = (10_000, 100_000)
IN_FLIGHT = 16


@dataclass
class Row:
    members: int
    fanout_seconds: float
    fanout_rss_mb: float
    raw_seconds: float
    transact_seconds: float

    @property
    def fanout_rate(self) -> float:
        return self.members / self.fanout_seconds

    @property
    def raw_rate(self) -> float:
        return self.members / self.raw_seconds

    @property
    def transact_rate(self) -> float:
        return self.members / self.transact_seconds


async def main(*, engine: str) -> None:
    started = start(engine)
    try:
        rows = [await one_size(started, size) for size in SIZES]
    finally:
        started.stop()
    print(f"\n### Fan-out: prepare-notification against raw BatchWriteItem ({started.name})\n")
    print(f"Machine: {machine()}. Command: `uv run python -m bench fanout`.\n")
    print(
        "| members | fan-out members/s | raw BatchWriteItem members/s (same items) | ratio | "
        "raw TransactWriteItems members/s (same operations) | ratio | fan-out peak RSS |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row.members:,} | {row.fanout_rate:,.0f} ({row.fanout_seconds:.1f} s) | "
            f"{row.raw_rate:,.0f} ({row.raw_seconds:.1f} s) | "
            f"{row.fanout_rate / row.raw_rate:.2f} | "
            f"{row.transact_rate:,.0f} ({row.transact_seconds:.1f} s) | "
            f"{row.fanout_rate / row.transact_rate:.2f} | "
            f"{row.fanout_rss_mb:.0f} MB |"
        )
    small, large = rows
    print(
        f"\nPeak RSS at {large.members:,} members is "
        f"{large.fanout_rss_mb / small.fanout_rss_mb:.2f}× "
        f"that at {small.members:,}. Each member is two items (entry, state); the raw rate counts "
        "members the same way."
    )


async def one_size(engine: Engine, members: int) -> Row:
    async with container_on(engine) as container:
        ids = await add_members(container, members, prefix="member-")
        nid = await notification_for_all(container, datetime.now(UTC), "everyone")
        seconds, rss_mb = run_fanout(engine, container, nid)
        totals = (await container.fanout.delivery_totals([nid]))[nid]
        assert totals == DeliveryFigures(members, members), (totals, members)
        # The references: the same items with plain BatchWriteItem (the engine's fastest), and
        # delivery's own operations in TransactWriteItems (its ceiling for a safe delivery).
        table = container.settings.table_name
        raw_seconds = await write_all(
            dynamo(container), f"{table}-raw", BATCH_ENTRIES_AND_STATES, ids, IN_FLIGHT
        )
        transact_seconds = await write_all(
            dynamo(container), f"{table}-tx", TRANSACT_DELIVERY, ids, IN_FLIGHT
        )
        return Row(members, seconds, rss_mb, raw_seconds, transact_seconds)


def run_fanout(engine: Engine, container: Container, nid: str) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POINTCLUB_", "DD_"))}
    env.update(
        POINTCLUB_DYNAMODB_ENDPOINT=engine.url,
        POINTCLUB_TABLE_NAME=container.settings.table_name,
        DD_TRACE_ENABLED="false",
    )
    command = [str(Path(sys.executable).with_name("pointclub")), "prepare-notification", nid]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # VmHWM is the child's own high-water mark since exec (its ru_maxrss would also count the
    # memory of this benchmark process at fork time).
    peak_kib = 0
    status_file = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            for line in status_file.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kib = max(peak_kib, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"prepare-notification failed: {command}")
    return seconds, peak_kib / 1024
