"""Datadog APM: configured once per process, before the modules it instruments are imported.

Tracing is on when ``DD_TRACE_ENABLED`` says so, or when an agent address is configured
(``DD_AGENT_HOST`` / ``DD_TRACE_AGENT_URL``); otherwise ddtrace stays inert, so a process with no
agent neither slows down, nor logs send errors, nor waits to flush at exit.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

TRUE = {"1", "true", "yes", "on"}


def tracing_requested(environ: MutableMapping[str, str]) -> bool:
    flag = environ.get("DD_TRACE_ENABLED")
    if flag is not None:
        return flag.strip().lower() in TRUE
    return bool(environ.get("DD_AGENT_HOST") or environ.get("DD_TRACE_AGENT_URL"))


def inert_unless_configured(environ: MutableMapping[str, str] | None = None) -> None:
    """Before ddtrace is first imported: with no tracing asked for, keep it from sending.

    Entry points call ``configure_tracing``; this covers everything else that imports the core
    (tests, benchmarks, scripts), where ddtrace would otherwise try an agent on localhost.
    """
    environ = os.environ if environ is None else environ
    if not tracing_requested(environ):
        environ.setdefault("DD_TRACE_ENABLED", "false")


def configure_tracing(
    default_service: str, environ: MutableMapping[str, str] | None = None
) -> bool:
    """Set ddtrace up for this process; True if traces will be sent."""
    environ = os.environ if environ is None else environ
    environ.setdefault("DD_SERVICE", default_service)
    if not tracing_requested(environ):
        environ["DD_TRACE_ENABLED"] = "false"
        environ.setdefault("DD_PROFILING_ENABLED", "false")
        return False
    environ["DD_TRACE_ENABLED"] = "true"
    # Per-field resolver spans cost more than they tell, and break graphql-core 3.3
    # (dd-trace-py issue 18723): keep them off whatever the environment says.
    environ["DD_TRACE_GRAPHQL_RESOLVERS_ENABLED"] = "false"
    from ddtrace import patch

    # aiobotocore is off by default in ddtrace: it gives the dynamodb.command spans.
    patch(aiobotocore=True, starlette=True, graphql=True, structlog=True, asyncio=True)
    if environ.get("DD_PROFILING_ENABLED", "").strip().lower() in TRUE:
        import ddtrace.profiling.auto  # noqa: F401  (starts the CPU, wall and heap profiler)
    return True
