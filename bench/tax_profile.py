"""`BENCH_TAX_PROFILE=1 uv run python -m bench tax`: after the rounds, py-spy samples this process
while each app serves home screens for ``SECONDS``, over the replayed stores one at a time and over
DynamoDB Local 32 at a time, and prints `bench profile`'s cut by layer of each (`bench/layers.py`).
In one process and one run, the GraphQL app's layers and the reference's side by side say where the
difference goes; the stacks stay on disk for other cuts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.harness import BIN
from bench.layers import layer_table

SECONDS = 12
ENABLED = os.environ.get("BENCH_TAX_PROFILE") == "1"
Scope = dict[str, Any]
Call = Callable[[Callable[..., Awaitable[None]], Scope, bytes], Awaitable[bytes]]


async def profile(
    label: str,
    app: Callable[..., Awaitable[None]],
    requests: list[tuple[Scope, bytes]],
    in_flight: int,
    call: Call,
) -> list[str]:
    """The layer table of ``app`` serving ``requests`` round robin, ``in_flight`` at a time."""
    served = 0

    async def worker(until: float) -> None:
        nonlocal served
        while time.monotonic() < until:
            scope, body = requests[served % len(requests)]
            served += 1
            await call(app, scope, body)

    async def serve(seconds: float) -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(*(worker(until) for _ in range(in_flight)))

    await serve(1.5)  # warm
    stacks = Path(tempfile.mkdtemp(prefix="bench-tax-")) / f"{label.replace(' ', '-')}.txt"
    spy = subprocess.Popen(
        [
            *(str(BIN / "py-spy"), "record", "--pid", str(os.getpid()), "--format", "raw"),
            *("--rate", "200", "--duration", str(SECONDS), "--output", str(stacks)),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    await asyncio.sleep(0.5)  # py-spy attaches
    served, started = 0, time.process_time()
    await serve(SECONDS - 1)
    per_request = 1000 * (time.process_time() - started) / served
    await asyncio.to_thread(spy.wait, 60)
    samples = stacks.read_text() if stacks.exists() else ""
    return [
        f"\n#### {label}: {served:,} requests, {in_flight} in flight, {per_request:.3f} ms of "
        f"CPU a request with py-spy attached (stacks: {stacks})\n",
        *layer_table(samples, per_request),
    ]
