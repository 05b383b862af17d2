"""What one span costs the server's process, as `serve` configures ddtrace: traces shaped like a
home screen's (a root and six children, each with a tag) sent to Datadog's test agent, in a fresh
interpreter for each configuration (ddtrace reads its settings once), alternating, medians of
three rounds. The figure is the process's CPU (its threads included: the writer sends from its
own) over the spans made, so it holds ddtrace's span machinery and nothing of the server's.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.harness import machine, trace_agent

SPANS = 21_000  # a multiple of 7: whole traces
ROUNDS = 5
CONFIGURATIONS = {
    "as `serve` runs it": {},
    "ddtrace's instrumentation telemetry on": {"DD_INSTRUMENTATION_TELEMETRY_ENABLED": "true"},
}
ROOT = Path(__file__).resolve().parents[1]

WORKER = """
import json, time
from core.observability.tracing import configure_tracing
assert configure_tracing("pointclub-api")
from ddtrace.trace import tracer

def traces(count):
    for _ in range(count // 7):
        with tracer.trace("starlette.request", resource="POST /graphql", span_type="web"):
            for _ in range(6):
                with tracer.trace("InboxQueries.page", resource="InboxQueries.page") as span:
                    span.set_tag("component", "bench")

traces(2_100)  # warm: imports, first flush
started = time.process_time()
traces({spans})
print(json.dumps(1e6 * (time.process_time() - started) / {spans}))
"""


def one(agent_url: str, extra: dict[str, str]) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DD_")}
    env.update(DD_TRACE_AGENT_URL=agent_url, DD_ENV="bench", **extra)
    done = subprocess.run(
        [sys.executable, "-c", WORKER.format(spans=SPANS)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


async def main(*, engine: str) -> None:
    del engine  # no store: spans only
    results: dict[str, list[float]] = {name: [] for name in CONFIGURATIONS}
    with trace_agent() as (agent_url, _):
        for index in range(ROUNDS):
            names = list(CONFIGURATIONS)
            for name in names[::-1] if index % 2 else names:
                results[name].append(one(agent_url, CONFIGURATIONS[name]))
    print("\n### What a span costs (ddtrace as `serve` configures it)\n")
    print(
        f"Machine: {machine()}. Command: `uv run python -m bench spans`. {SPANS:,} spans in "
        f"traces of seven (a root, six children with a tag) to Datadog's test agent; CPU of the "
        f"process per span, {ROUNDS} alternating rounds.\n"
    )
    print("| configuration | µs a span (median) | rounds |")
    print("|---|---|---|")
    for name, values in results.items():
        rounds = ", ".join(f"{value:.1f}" for value in values)
        print(f"| {name} | {statistics.median(values):.1f} | {rounds} |")
