"""The `pointclub` entry point: observability first, then the commands.

ddtrace must patch graphql-core and structlog before they are imported,
so this module imports nothing of the application until tracing is configured.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        _main(command)
    except KeyboardInterrupt:
        # Ctrl-C before uvicorn took over the signal (while importing, starting the embedded
        # store): for `serve` that is a request to stop, and stopping is a clean exit.
        if command != "serve":
            raise
        print("stopped", file=sys.stderr)
        sys.exit(0)


def _main(command: str) -> None:
    from core.observability.tracing import configure_tracing

    serving = command == "serve"
    tracing = configure_tracing(
        "pointclub-api" if serving else "pointclub-batch", require_agent=not serving
    )

    from core.observability.logging import configure_logging

    production = os.environ.get("POINTCLUB_ENV", "").lower() == "production"
    configure_logging(json_output=production or not sys.stderr.isatty())

    from cli.app import app

    if not tracing or command in ("serve", "", "--help"):
        app()
        return
    _run_traced(app, command)


def _run_traced(app: object, command: str) -> None:
    """One trace per job run: a root span named after the command, flushed before exit."""
    from ddtrace.trace import tracer

    resource = " ".join(arg for arg in sys.argv[1:3] if not arg.startswith("-"))
    code: int | str | None = 0
    with tracer.trace("pointclub.job", resource=resource or command, span_type="worker") as span:
        try:
            app()  # type: ignore[operator]
        except SystemExit as exit_:
            code = exit_.code
            if code not in (0, None):
                span.error = 1
                span.set_tag("error.message", f"exit code {code}")
    tracer.shutdown(timeout=5)
    sys.exit(code)
