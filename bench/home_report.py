"""The report of `bench home`: what one load measured, the alternating rounds at 32 in flight,
and their medians against issue 18's targets."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from bench.harness import machine, percentile

MEMBERS = 50
SMALLEST, LARGEST = 20, 1_000  # inbox sizes, spread evenly over the members
FRESH = 10  # unread notifications every member gets after reading the rest
DURATION = 8.0
WARMUP = 1.5
# Issue 18's targets: GraphQL CPU per home screen (tracing off, on), throughput against the
# reference, tracing on against off, and the unchanged ones (calls, p99/p50).
CPU_OFF_MS, CPU_ON_MS, TAX, TRACING, MAX_CALLS, TAIL = 4.0, 4.5, 0.9, 0.9, 3, 3.0


@dataclass
class Load:
    label: str
    concurrency: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    cpu_seconds: float
    beside_cpu_seconds: float = 0.0  # the trace agent's, when it runs beside the server
    load_cpu_seconds: float = 0.0  # the load process's own (this process)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 0.99)

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / self.requests

    @property
    def beside_cpu_ms_per_request(self) -> float:
        return 1000 * self.beside_cpu_seconds / self.requests

    @property
    def load_cpu_ms_per_request(self) -> float:
        return 1000 * self.load_cpu_seconds / self.requests


@dataclass
class Round:
    """One alternating round at 32 in flight: GraphQL against the reference, tracing on
    against off. Each figure of the report is the median of its rounds."""

    graphql: Load
    reference: Load
    traced: Load
    untraced: Load

    @property
    def tax(self) -> float:
        return self.graphql.throughput / self.reference.throughput

    @property
    def tracing(self) -> float:
        return self.traced.throughput / self.untraced.throughput


def report(rows: list[Load], rounds: list[Round], calls: dict[str, list[str]], engine: str) -> None:
    httpx = os.environ.get("BENCH_LOAD") == "httpx"
    command = (
        "BENCH_LOAD=httpx uv run python -m bench home" if httpx else "uv run python -m bench home"
    )
    load = "httpx" if httpx else "bench/load.py"
    print(f"\n### Home screen under load ({engine})\n")
    print(
        f"Machine: {machine()}. Command: `{command}`. {MEMBERS} members with "
        f"{SMALLEST} to {LARGEST:,} entries ({FRESH} unread), `first: 20`, "
        f"{DURATION:.0f} s per measurement after {WARMUP:.1f} s of warm-up; one uvicorn worker; "
        f"the load from the bench process ({load}); "
        f"at 32 in flight {len(rounds)} alternating rounds.\n"
    )
    print(
        "| server | in flight | requests/s | p50 | p99 | p99/p50 | server CPU per request "
        "| trace agent CPU per request | load CPU per request |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    measured = [*rows, *(load for r in rounds for load in (r.graphql, r.reference))]
    measured += [load for r in rounds for load in (r.traced, r.untraced)]
    for row in measured:
        agent = f"{row.beside_cpu_ms_per_request:.2f} ms" if row.beside_cpu_seconds else ""
        print(
            f"| {row.label} | {row.concurrency} | {row.throughput:,.0f} | {row.p50:.1f} ms | "
            f"{row.p99:.1f} ms | {row.p99 / row.p50:.1f} | {row.cpu_ms_per_request:.2f} ms "
            f"| {agent} | {row.load_cpu_ms_per_request:.2f} ms |"
        )
    figures = Figures(rounds, calls)
    print(f"\nMedians of the {len(rounds)} rounds at 32 in flight, against issue 18's targets:\n")
    print("| figure | measured | target | met |")
    print("|---|---|---|---|")
    for name, value, target, met in figures.lines():
        print(f"| {name} | {value} | {target} | {'yes' if met else '**no**'} |")
    print("\nDynamoDB calls per home-screen request:\n")
    print("| first | calls |")
    print("|---|---|")
    for first, operations in calls.items():
        print(f"| {first} | {len(operations)} ({', '.join(sorted(operations))}) |")


@dataclass
class Figures:
    rounds: list[Round]
    calls: dict[str, list[str]]

    def median(self, value: Callable[[Round], float]) -> float:
        return statistics.median(value(r) for r in self.rounds)

    def lines(self) -> list[tuple[str, str, str, bool]]:
        cpu_off = self.median(lambda r: r.graphql.cpu_ms_per_request)
        cpu_ref = self.median(lambda r: r.reference.cpu_ms_per_request)
        cpu_on = self.median(lambda r: r.traced.cpu_ms_per_request)
        agent = self.median(lambda r: r.traced.beside_cpu_ms_per_request)
        tax, tracing = self.median(lambda r: r.tax), self.median(lambda r: r.tracing)
        tail = self.median(lambda r: r.graphql.p99 / r.graphql.p50)
        most = max(len(operations) for operations in self.calls.values())
        return [
            (
                "server CPU per home screen, tracing off",
                f"{cpu_off:.2f} ms (reference {cpu_ref:.2f} ms)",
                f"≤ {CPU_OFF_MS} ms",
                cpu_off <= CPU_OFF_MS,
            ),
            (
                "server CPU per home screen, tracing on",
                f"{cpu_on:.2f} ms (the trace agent: {agent:.2f} ms more)",
                f"≤ {CPU_ON_MS} ms",
                cpu_on <= CPU_ON_MS,
            ),
            ("GraphQL / reference throughput", f"{tax:.2f}", f"≥ {TAX}", tax >= TAX),
            ("tracing on / off throughput", f"{tracing:.2f}", f"≥ {TRACING}", tracing >= TRACING),
            (
                "DynamoDB calls (first 1, 20, 100; 20 again)",
                str(most),
                f"≤ {MAX_CALLS}",
                most <= MAX_CALLS,
            ),
            ("GraphQL p99 / p50", f"{tail:.1f}", f"≤ {TAIL}", tail <= TAIL),
        ]
