"""Where a home-screen request spends the server's CPU: py-spy samples a real GraphQL server (or,
with ``BENCH_PROFILE_SERVER=reference``, the hand-written reference) under load (32 in flight),
and this prints the heaviest frames, inclusive, by package and by layer. With
``BENCH_PROFILE_CENSUS=1`` it also prints what only the cyclic collector freed, and the reference
cycles that held it (``bench/gc_timer/gc_census.py``)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from bench.harness import BIN, container_on, machine, start, trace_agent
from bench.home import graphql_server, home_requests, reference_server, seed
from bench.layers import layer_table, stack_samples
from bench.load import drive
from core.auth import DevTokenIssuer
from tests.brokers import start_broker
from tests.engines import free_port, wait_for_port

SECONDS = 12
GC_TIMER = Path(__file__).parent / "gc_timer"
TOP = 25


async def main(*, engine: str) -> None:
    started = start(engine)
    stack = ExitStack()
    try:
        # BENCH_PROFILE_TRACING=1: the server traces, sending to Datadog's test agent.
        # BENCH_PROFILE_SERVER=reference: the hand-written reference instead, for the same cut.
        reference = os.environ.get("BENCH_PROFILE_SERVER") == "reference"
        if reference and os.environ.get("BENCH_PROFILE_TRACING") == "1":
            raise SystemExit("the reference does not trace: drop BENCH_PROFILE_TRACING")
        tracing = None
        if os.environ.get("BENCH_PROFILE_TRACING") == "1":
            tracing, _ = stack.enter_context(trace_agent())
        async with container_on(started) as container:
            await seed(container)
            tokens = [
                DevTokenIssuer(container.settings).issue(f"member-{i:03d}", ttl=timedelta(hours=1))
                for i in range(50)
            ]
            broker = start_broker()
            stack.callback(broker.stop)
            command, env = (
                reference_server(started, container)
                if reference
                else graphql_server(started, container, broker.url, tracing=tracing)
            )
            output = Path(tempfile.mkdtemp()) / "stacks.txt"
            gc_stats = output.parent / "gc.jsonl"  # bench/gc_timer: the collector's time
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(GC_TIMER), env.get("PYTHONPATH")])
            )
            env["BENCH_GC_STATS"] = str(gc_stats)
            census_file = output.parent / "census.json"
            if os.environ.get("BENCH_PROFILE_CENSUS") == "1":
                env["BENCH_GC_CENSUS"] = str(census_file)
            port = free_port()
            server = subprocess.Popen(
                [part.replace("{port}", str(port)) for part in command],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_for_port(port, timeout=60)
                requests = home_requests(tokens, graphql=not reference)
                await drive(port, requests, 32, 1.5)
                spy = subprocess.Popen(
                    [
                        str(BIN / "py-spy"),
                        "record",
                        "--pid",
                        str(server.pid),
                        "--format",
                        "raw",
                        "--rate",
                        "200",
                        "--duration",
                        str(SECONDS),
                        "--output",
                        str(output),
                        "--nonblocking",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                server.send_signal(signal.SIGUSR1)
                latencies, _ = await drive(port, requests, 32, SECONDS + 1)
                server.send_signal(signal.SIGUSR1)
                spy.wait(timeout=60)
                await asyncio.sleep(0.5)  # the second line is written between requests
                if "BENCH_GC_CENSUS" in env:  # the census walks the window's garbage first
                    for _ in range(120):
                        if census_file.exists():
                            break
                        await asyncio.sleep(0.5)
            finally:
                server.terminate()
                server.wait(timeout=20)
    finally:
        stack.close()
        started.stop()
    gc_line, cpu_seconds = gc_figures(gc_stats)
    report(output, len(latencies), tracing is not None, reference, cpu_seconds)
    print(gc_line)
    if census_file.exists():
        print("\n".join(census_table(census_file)))


def report(
    stacks_file: Path, requests: int, traced: bool, reference: bool, cpu_seconds: float | None
) -> None:
    inclusive: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    total = 0
    for frames, count in stack_samples(stacks_file.read_text()):
        total += count
        for frame in set(frames):
            inclusive[_short(frame)] += count
        by_package[_package(frames[-1])] += count
    tracing = ", tracing on" if traced else ""
    server = "The reference's" if reference else "Server"
    print(
        f"\n### {server} CPU profile of the home screen (py-spy, {SECONDS} s at 32 in flight"
        f"{tracing})\n"
    )
    command = "BENCH_PROFILE_TRACING=1 " if traced else ""
    command += "BENCH_PROFILE_SERVER=reference " if reference else ""
    per_request = None if cpu_seconds is None else 1000 * cpu_seconds / requests
    cpu = "" if per_request is None else f", {per_request:.2f} ms of server CPU a request"
    print(
        f"Machine: {machine()}. Command: `{command}uv run python -m bench profile`. "
        f"{total:,} samples while {requests:,} requests were served{cpu}.\n"
    )
    print(f"(raw stacks for other cuts: {stacks_file})\n", file=sys.stderr)
    print("| where the leaf frame is | share of samples |")
    print("|---|---|")
    for package, count in by_package.most_common(12):
        print(f"| {package} | {100 * count / total:.1f}% |")
    print("\n| frame (inclusive) | share of samples |")
    print("|---|---|")
    # Frames on nearly every stack (the event loop, uvicorn, the CLI) say nothing: leave them out.
    telling = [(f, c) for f, c in inclusive.most_common() if c < 0.85 * total][:TOP]
    for frame, count in telling:
        print(f"| `{frame}` | {100 * count / total:.1f}% |")
    print()
    print("\n".join(layer_table(stacks_file.read_text(), per_request)))


def census_table(census_file: Path) -> list[str]:
    """The census the server wrote (``bench/gc_timer/gc_census.py``) as Markdown."""
    found = json.loads(census_file.read_text())
    lines = [
        f"\nGarbage only the cyclic collector freed over the window: {found['objects']:,} "
        f"objects, in or below {found['cycles']:,} reference cycles. (The census keeps that "
        "garbage and collects twice itself: this run's other figures are not comparable.)\n",
        "| a cycle of | cycles |",
        "|---|---|",
        *(f"| {shape} | {count:,} |" for shape, count in found["shapes"]),
        *(["| (none) | 0 |"] if not found["shapes"] else []),
        "\n| garbage by type | objects |",
        "|---|---|",
        *(f"| {kind} | {count:,} |" for kind, count in found["kinds"]),
        *(["| (none) | 0 |"] if not found["kinds"] else []),
    ]
    return lines


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").split(":")[0]
    marker = "site-packages/"
    if marker in path:
        path = path.split(marker, 1)[1]
    elif "/work/" in path or path.startswith("/"):
        path = "/".join(path.split("/")[-2:])
    return f"{name} ({path})"


def _package(frame: str) -> str:
    """The top-level package of a frame's file (py-spy prints paths relative to sys.path)."""
    path = frame.partition(" (")[2].rstrip(")").split(":")[0]
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    if path.startswith("/"):
        return "python stdlib" if "/lib/python3" in path else path.rsplit("/", 1)[-1]
    top = path.split("/")[0]
    if top in ("core", "resolvers", "schema", "cli"):
        return f"pointclub {top}"
    return top if "/" in path else f"python stdlib ({top})"


def gc_figures(stats_file: Path) -> tuple[str, float | None]:
    """The cyclic collector's share of the server's CPU over the profiled window, and that CPU."""
    lines = stats_file.read_text().splitlines() if stats_file.exists() else []
    if len(lines) < 2:
        return "\n(the server wrote no collector figures: was bench/gc_timer on its path?)", None
    first, last = (json.loads(line) for line in lines[-2:])
    seconds = [b - a for a, b in zip(first["gc"], last["gc"], strict=True)]
    collections = [b - a for a, b in zip(first["collections"], last["collections"], strict=True)]
    cpu = float(last["cpu"] - first["cpu"])
    line = (
        f"\nCyclic garbage collection over the same window: {sum(seconds):.2f} s of "
        f"{cpu:.2f} s of server CPU ({100 * sum(seconds) / cpu:.1f}%); collections by "
        f"generation {collections[0]:,} / {collections[1]:,} / {collections[2]:,}, taking "
        f"{seconds[0]:.2f} / {seconds[1]:.2f} / {seconds[2]:.2f} s."
    )
    return line, cpu


if __name__ == "__main__":
    sys.exit("run it as: uv run python -m bench profile")
