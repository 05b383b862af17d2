"""When tracing turns on, and what happens when no agent answers."""

from __future__ import annotations

import socket

from core.observability.tracing import agent_reachable, configure_tracing, tracing_requested


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
