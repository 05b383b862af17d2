"""Datadog APM: configured once per process, before the modules it instruments are imported.

Tracing is on when ``DD_TRACE_ENABLED`` says so, or when an agent address is configured
(``DD_AGENT_HOST`` / ``DD_TRACE_AGENT_URL``); otherwise ddtrace stays inert, so a process with no
agent neither slows down, nor logs send errors, nor waits to flush at exit.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import MutableMapping
from urllib.parse import urlsplit

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


# Settings of ddtrace's Starlette, ASGI and aiobotocore integrations (and of the products that
# hook into them), which are not patched in: an operator who sets one is told it does nothing.
INTEGRATION_SETTINGS = (
    "DD_TRACE_HEADER_TAGS",
    "DD_TRACE_CLIENT_IP_ENABLED",
    "DD_TRACE_CLIENT_IP_HEADER",
    "DD_TRACE_HTTP_SERVER_ERROR_STATUSES",
    "DD_TRACE_WEBSOCKET_MESSAGES_ENABLED",
    "DD_STARLETTE_DISTRIBUTED_TRACING",
    "DD_STARLETTE_SERVICE",
    "DD_AIOBOTOCORE_SERVICE",
    "DD_AWS_TAG_NO_PARAMS",
    "DD_BOTOCORE_DISTRIBUTED_TRACING",
    "DD_APPSEC_ENABLED",
    "DD_IAST_ENABLED",
)


def ignored_settings(environ: MutableMapping[str, str]) -> list[str]:
    """The integration settings ``environ`` sets, which this process does not honour."""
    return [name for name in INTEGRATION_SETTINGS if environ.get(name, "").strip()]


def agent_reachable(environ: MutableMapping[str, str], timeout: float = 0.3) -> bool:
    """Whether the trace agent's TCP port answers (a Unix socket URL is taken on trust)."""
    url = environ.get("DD_TRACE_AGENT_URL")
    if url:
        parsed = urlsplit(url)
        if parsed.scheme == "unix":
            return True
        host, port = parsed.hostname or "localhost", parsed.port or 8126
    else:
        host = environ.get("DD_AGENT_HOST", "localhost")
        port = int(environ.get("DD_TRACE_AGENT_PORT", "8126"))
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def configure_tracing(
    default_service: str,
    environ: MutableMapping[str, str] | None = None,
    *,
    require_agent: bool = False,
) -> bool:
    """Set ddtrace up for this process; True if traces will be sent.

    ``require_agent`` (batch jobs): with no agent answering, trace nothing, rather than log
    send errors and wait at exit to flush traces nobody receives.
    """
    environ = os.environ if environ is None else environ
    environ.setdefault("DD_SERVICE", default_service)
    wanted = tracing_requested(environ)
    if wanted and require_agent and not agent_reachable(environ):
        # Logging is not configured yet: one plain line on stderr.
        sys.stderr.write("warning: no Datadog agent answers; this job runs without tracing\n")
        wanted = False
    if not wanted:
        environ["DD_TRACE_ENABLED"] = "false"
        environ.setdefault("DD_PROFILING_ENABLED", "false")
        return False
    environ["DD_TRACE_ENABLED"] = "true"
    ignored = ignored_settings(environ)
    if ignored:
        sys.stderr.write(
            "warning: pointclub makes its own request and DynamoDB spans; these ddtrace "
            f"settings do nothing here: {', '.join(ignored)} (docs/OPERATIONS.md, Datadog)\n"
        )
    # Per-field resolver spans cost more than they tell, and break graphql-core 3.3
    # (dd-trace-py issue 18723): keep them off whatever the environment says.
    environ["DD_TRACE_GRAPHQL_RESOLVERS_ENABLED"] = "false"
    # ddtrace publishes the active span to an OpenTelemetry thread-context record on every span
    # activation, for out-of-process readers (eBPF profilers) we do not run. An operator who runs
    # one may turn it back on.
    environ.setdefault("DD_TRACE_OTEL_CTX_ENABLED", "false")
    from ddtrace import patch

    profiling = environ.get("DD_PROFILING_ENABLED", "").strip().lower() in TRUE
    # Not Starlette nor aiobotocore: the request and DynamoDB spans are our own
    # (resolvers/request_spans.py, dynamodb_spans.py), with their names and tags at a fraction
    # of the integrations' CPU (issue 18, `bench tracing`). asyncio only with the profiler: trace
    # context follows tasks through contextvars already, and the integration wraps every
    # event-loop callback to publish the context switches by which the profiler ties its
    # samples to spans (about a tenth of the server's CPU under load, issue 18's profile).
    # tests/e2e/test_tracing.py checks each DynamoDB call sits under its query.
    patch(graphql=True, structlog=True, asyncio=profiling)
    if profiling:
        import ddtrace.profiling.auto  # noqa: F401  (starts the CPU, wall and heap profiler)
    return True
