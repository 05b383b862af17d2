"""What tracing costs, as `serve` configures ddtrace, with Datadog's test agent receiving.

1. One span: traces shaped like a home screen's (a root and six children, each with a tag), in a
   fresh interpreter for each configuration (ddtrace reads its settings once), alternating. The
   figure is the process's CPU (the writer's thread included) over the spans made: ddtrace's
   span machinery and nothing of the server's.
2. A home screen: the GraphQL app over DynamoDB Local at 32 in flight in one traced process
   (`bench/tracing_worker.py`), the tracer turned on and off in alternating rounds, so that the
   difference is what tracing costs the server's process (its spans, its integrations' wrappers,
   its writer) at one moment of the machine; and the spans of a home screen's trace by name.
   `bench home` measures the same as throughput, with the agent sharing the two cores.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def traced(agent_url: str, args: list[str], timeout: float, **extra: str) -> Any:
    """The last line a fresh interpreter prints as JSON, run with ``args`` and traces sent to the
    agent (this environment's own ``DD_*`` left out, so every run is configured alike)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DD_")}
    env.update(DD_TRACE_AGENT_URL=agent_url, DD_ENV="bench", **extra)
    done = subprocess.run(
        [sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args[:2]} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


async def main(*, engine: str) -> None:
    results: dict[str, list[float]] = {name: [] for name in CONFIGURATIONS}
    with trace_agent() as (agent_url, _):
        for index in range(ROUNDS):
            names = list(CONFIGURATIONS)
            for name in names[::-1] if index % 2 else names:
                worker = ["-c", WORKER.format(spans=SPANS)]
                results[name].append(float(traced(agent_url, worker, 300, **CONFIGURATIONS[name])))
        screens = traced(agent_url, ["-m", "bench.tracing_worker", engine], 1800)
    print("\n### What a span costs (ddtrace as `serve` configures it)\n")
    print(
        f"Machine: {machine()}. Command: `uv run python -m bench tracing`. {SPANS:,} spans in "
        f"traces of seven (a root, six children with a tag) to Datadog's test agent; CPU of the "
        f"process per span, {ROUNDS} alternating rounds.\n"
    )
    print("| configuration | µs a span (median) | rounds |")
    print("|---|---|---|")
    for name, values in results.items():
        rounds = ", ".join(f"{value:.1f}" for value in values)
        print(f"| {name} | {statistics.median(values):.1f} | {rounds} |")
    on, off = statistics.median(screens["on"]), statistics.median(screens["off"])
    spans = screens["spans"]
    print("\n### What tracing costs a home screen (one traced process, tracer on and off)\n")
    print(
        f"The GraphQL app (`first: 20`) over {engine_name(engine)} at 32 in flight in one process "
        f"configured as `serve` (`bench/tracing_worker.py`), the tracer turned on and off in "
        f"{len(screens['on'])} alternating rounds; CPU of the process a request.\n"
    )
    print("| tracer | CPU a request (median) | rounds |")
    print("|---|---|---|")
    for label, values in (("on", screens["on"]), ("off", screens["off"])):
        rounds = ", ".join(f"{value:.2f}" for value in values)
        print(f"| {label} | {statistics.median(values):.2f} ms | {rounds} |")
    calls = screens["calls"]
    print(
        f"\nPython calls a request (cProfile's count, the same from run to run): "
        f"{calls['on']:,.0f} with the tracer on, {calls['off']:,.0f} off, "
        f"{calls['on'] - calls['off']:,.0f} for tracing."
    )
    per_span = statistics.median(results[next(iter(CONFIGURATIONS))])
    count = sum(spans.values())
    print(
        f"\nTracing costs {on - off:.2f} ms a request ({off / on:.2f} × the untraced CPU's "
        f"throughput, were the process alone on its core). A trace holds {count:g} spans: "
        + ", ".join(f"{name} {n:g}" for name, n in spans.items())
        + f"; at {per_span:.1f} µs a span that is {count * per_span / 1000:.2f} ms. The rest is "
        "ddtrace's work around its spans (tags, sampling, the trace's encoding and sending), "
        "within the spread of the rounds above.\n"
    )


def engine_name(engine: str) -> str:
    return "moto's server" if engine == "moto" else "DynamoDB Local"
