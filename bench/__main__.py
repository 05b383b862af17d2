"""Benchmarks (not tests): `uv run python -m bench <name>`; each prints a Markdown table.

broadcast publish-to-visible and write calls at 10,000 / 100,000 / 1,000,000 members; the
         home screen with 0 / 10 / 100 live broadcasts
counts   unreadCount and markAllNotificationsRead for a member with 5,000 entries, 1,000 unread
embedded the embedded store of `serve`: import-list and prepare-notification of 10,000 and
         50,000 members
fanout   prepare-notification to 10,000 and 100,000 members against raw BatchWriteItem
home     the home screen under load: GraphQL vs a hand-written reference; tracing on vs off
live     10,000 live subscriptions on one server and on two: memory, fan-out and broadcast
         event latency (BENCH_LIVE_MEMBERS to change the number)
profile  where the server's CPU goes on the home screen (py-spy; BENCH_PROFILE_TRACING=1 to trace,
         BENCH_PROFILE_CENSUS=1 for the garbage only the cyclic collector frees)
shapes   the engine's rate for each write shape delivery could use (why fan-out has a ceiling)
tracing  what tracing costs: one span (and with ddtrace's telemetry on), and a home screen with
         the tracer on and off in one process over DynamoDB Local
tax      the GraphQL tax alone: the home screen through both apps and through the server's queries
         alone, in process, stores replayed, then over DynamoDB Local (BENCH_TAX_PROFILE=1 for
         each one's cut by layer, py-spy)
"""

from __future__ import annotations

import argparse
import asyncio
import logging

import uvloop

from bench import broadcast, counts, embedded, fanout, home, live, profile, shapes, tax, tracing
from core.observability.logging import configure_logging

BENCHMARKS = {
    "broadcast": broadcast.main,
    "counts": counts.main,
    "embedded": embedded.main,
    "fanout": fanout.main,
    "home": home.main,
    "live": live.main,
    "profile": profile.main,
    "shapes": shapes.main,
    "tax": tax.main,
    "tracing": tracing.main,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=[*BENCHMARKS, "all"])
    parser.add_argument(
        "--engine",
        choices=["local", "moto"],
        default="local",
        help="DynamoDB Local (default) or moto's server",
    )
    args = parser.parse_args()
    # The tables are the output: the servers' request logs would bury them.
    configure_logging(json_output=False, level=logging.WARNING)
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    for name in names:
        if name == "tax":  # the apps run in this process: on the loop uvicorn serves them on
            uvloop.run(BENCHMARKS[name](engine=args.engine))
        else:
            asyncio.run(BENCHMARKS[name](engine=args.engine))


if __name__ == "__main__":
    main()
