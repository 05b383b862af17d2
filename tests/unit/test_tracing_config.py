"""When tracing turns on, and what happens when no agent answers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from core.observability.tracing import (
    agent_reachable,
    configure_tracing,
    ignored_settings,
    tracing_requested,
)


def test_tracing_is_off_unless_asked_for() -> None:
    assert not tracing_requested({})
    assert tracing_requested({"DD_AGENT_HOST": "127.0.0.1"})
    assert tracing_requested({"DD_TRACE_AGENT_URL": "http://127.0.0.1:8126"})
    assert not tracing_requested({"DD_TRACE_ENABLED": "false", "DD_AGENT_HOST": "127.0.0.1"})
    environ: dict[str, str] = {}
    assert configure_tracing("pointclub-api", environ) is False
    assert environ == {
        "DD_SERVICE": "pointclub-api",
        "DD_TRACE_ENABLED": "false",
        "DD_PROFILING_ENABLED": "false",
    }


def test_a_job_with_no_agent_answering_runs_untraced() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    environ = {"DD_TRACE_AGENT_URL": f"http://127.0.0.1:{closed}", "DD_SERVICE": "custom"}
    assert not agent_reachable(environ)
    assert configure_tracing("pointclub-batch", environ, require_agent=True) is False
    assert environ["DD_TRACE_ENABLED"] == "false"
    assert environ["DD_SERVICE"] == "custom", "an explicit DD_SERVICE wins"


def test_a_listening_agent_is_reachable() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert agent_reachable({"DD_TRACE_AGENT_URL": f"http://127.0.0.1:{port}"})
        assert agent_reachable({"DD_AGENT_HOST": "127.0.0.1", "DD_TRACE_AGENT_PORT": str(port)})


ROOT = Path(__file__).resolve().parents[2]
TRACED = """
import json, os
from core.observability.tracing import configure_tracing
assert configure_tracing("pointclub-api")
import aiobotocore.client, graphql, starlette.applications, structlog
from ddtrace._monkey import _get_patched_modules
print(json.dumps({
    "patched": sorted(_get_patched_modules()),
    "resolvers": os.environ["DD_TRACE_GRAPHQL_RESOLVERS_ENABLED"],
    "otel": os.environ["DD_TRACE_OTEL_CTX_ENABLED"],
}))
"""


def traced_defaults(**environ: str) -> dict[str, str]:
    """What ``configure_tracing`` leaves on for a traced process (its own interpreter: ddtrace
    reads its settings once, when first imported)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DD_")}
    base.update(DD_TRACE_AGENT_URL="http://127.0.0.1:9", **environ)
    done = subprocess.run(
        [sys.executable, "-c", TRACED],
        env=base,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_traced_process_skips_what_costs_a_request() -> None:
    """ddtrace's Starlette and aiobotocore integrations stay out (our own spans replace them,
    tests/e2e/test_tracing.py); the OpenTelemetry thread-context record of the active span stays
    off unless an operator asks; per-field resolver spans stay off whatever is asked (they
    break graphql-core 3.3)."""
    patched = ["graphql", "structlog"]
    assert traced_defaults() == {"patched": patched, "resolvers": "false", "otel": "false"}
    asked = traced_defaults(
        DD_TRACE_GRAPHQL_RESOLVERS_ENABLED="true",
        DD_TRACE_OTEL_CTX_ENABLED="true",
    )
    assert asked == {"patched": patched, "resolvers": "false", "otel": "true"}


def test_an_integration_setting_that_does_nothing_is_named() -> None:
    """ddtrace's Starlette and aiobotocore integrations are not patched in: their settings do
    nothing, and an operator who sets one is told so when the process starts."""
    environ = {"DD_TRACE_HEADER_TAGS": "x-user:user", "DD_SERVICE": "a", "DD_APPSEC_ENABLED": " "}
    assert ignored_settings(environ) == ["DD_TRACE_HEADER_TAGS"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("DD_")}
    done = subprocess.run(
        [sys.executable, "-c", TRACED],
        env={**base, "DD_TRACE_AGENT_URL": "http://127.0.0.1:9", "DD_AWS_TAG_NO_PARAMS": "true"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "these ddtrace settings do nothing here: DD_AWS_TAG_NO_PARAMS" in done.stderr
