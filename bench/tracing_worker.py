"""`bench tracing`'s home-screen worker, in its own interpreter: ddtrace is configured as `serve`
configures it before anything it instruments is imported, then one GraphQL app serves home screens
over DynamoDB Local at 32 in flight with the tracer turned on and off in alternating rounds (the
same process, the same warm caches, the same moment of a noisy machine). Prints one JSON line."""

from __future__ import annotations

from core.observability.tracing import configure_tracing

if not configure_tracing("pointclub-api"):
    raise SystemExit("tracing did not turn on: set DD_TRACE_AGENT_URL")

# What ddtrace instruments is imported below, after its set-up, on purpose.
import json
import sys
from collections import Counter
from datetime import timedelta

import orjson
import uvloop
from ddtrace.trace import Span, tracer

from bench.harness import container_on, start
from bench.home import QUERY, seed
from bench.home_report import MEMBERS
from bench.tax import cpu_per_request, graphql_scope, python_calls
from core.auth import DevTokenIssuer
from core.heap import freeze_startup_heap
from resolvers.app import create_app, install

ROUNDS = 8  # each a measurement on and one off, the order turned every round
REQUESTS = 1_000  # per measurement, after a fifth as many to warm up
COUNTED = 100  # requests whose spans are counted by name


async def main(engine: str) -> dict[str, object]:
    started = start(engine)
    try:
        async with container_on(started) as container:
            await seed(container)
            issuer = DevTokenIssuer(container.settings)
            body = orjson.dumps({"query": QUERY, "variables": {"first": 20}})
            requests = [
                graphql_scope(issuer.issue(f"member-{i:03d}", ttl=timedelta(hours=1)), body)
                for i in range(MEMBERS)
            ]
            app = create_app(container.settings)
            install(app, container)
            await cpu_per_request(app, requests, REQUESTS // 5, 32)
            freeze_startup_heap()
            spans = await spans_by_name(app, requests)
            figures: dict[bool, list[float]] = {True: [], False: []}
            for index in range(ROUNDS):
                for enabled in (True, False) if index % 2 else (False, True):
                    tracer.enabled = enabled
                    await cpu_per_request(app, requests, REQUESTS // 5, 32)
                    figures[enabled].append(await cpu_per_request(app, requests, REQUESTS, 32))
            calls = {}
            for enabled in (True, False):
                tracer.enabled = enabled
                calls[enabled] = await python_calls(app, requests)
            tracer.enabled = True
    finally:
        started.stop()
    return {
        "on": figures[True],
        "off": figures[False],
        "spans": spans,
        "calls": {"on": calls[True], "off": calls[False]},
    }


async def spans_by_name(
    app: object, requests: list[tuple[dict[str, object], bytes]]
) -> dict[str, float]:
    """The spans a home screen's trace holds, by name, counted as the tracer finishes them."""
    names: Counter[str] = Counter()
    finish = tracer._on_span_finish

    def counting(span: Span) -> None:
        names[span.name] += 1
        finish(span)

    tracer._on_span_finish = counting  # type: ignore[method-assign]
    try:
        await cpu_per_request(app, requests, COUNTED, 32)  # type: ignore[arg-type]
    finally:
        tracer._on_span_finish = finish  # type: ignore[method-assign]
    return {name: count / COUNTED for name, count in names.most_common()}


if __name__ == "__main__":
    print(json.dumps(uvloop.run(main(sys.argv[1]))))
