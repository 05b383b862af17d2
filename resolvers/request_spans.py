"""The request's root span, ``starlette.request``, made by a small ASGI middleware of ours.

ddtrace's Starlette integration made it before, through its generic ASGI middleware: per request
it read and tagged headers, wrapped ``receive`` and ``send``, dispatched core events and looked
for Lambda, AppSec and IAST (issue 18's profile, `bench tracing`). This gives the span DESIGN asks
for, with the names and tags that integration gave it (``component``, ``span.kind``, ``http.*``,
the resource ``METHOD /route``), so that monitors and dashboards built on them keep working, and
continues a trace a caller propagated. What it does not do is listed in docs/OPERATIONS.md.
"""

from __future__ import annotations

from typing import Any

from ddtrace.propagation.http import HTTPPropagator
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.observability.spans import Span, tracer

# The headers of ddtrace's extraction styles (Datadog, W3C, B3, baggage): with none of them, as
# on most requests, nothing is parsed.
PROPAGATED = frozenset({b"x-datadog-trace-id", b"traceparent", b"x-b3-traceid", b"b3", b"baggage"})
LONGEST_TAG = 512  # a hostile Host or User-Agent is cut, not stored whole on every span
# The scope's key for the operation name the resource carries, set by TraceTags
# (resolvers/tracing.py) only for a name of the trusted documents' manifest: a caller's own names
# would make as many resources as it likes.
RESOURCE_OPERATION = "pointclub.resource_operation"


class RequestSpans:
    """One ``starlette.request`` span per HTTP request, the root of the request's trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not tracer.enabled:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        headers: list[tuple[bytes, bytes]] = scope.get("headers") or []
        outer = tracer.context_provider.active()
        span = tracer.start_span(
            "starlette.request",
            child_of=_propagated(headers),
            resource=method,
            span_type="web",
            activate=True,
        )
        answered = False

        async def sending(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                _status(span, int(message["status"]))
            await send(message)

        try:
            _describe(span, scope, headers)
            await self.app(scope, receive, sending)
        except BaseException as error:
            span.set_exc_info(type(error), error, error.__traceback__)
            if not answered:  # Starlette's outermost middleware answers 500, past `sending`
                _status(span, 500)
            raise
        finally:
            route = _route(scope)
            if route is not None:
                span.set_tag("http.route", route)
            resource = f"{method} {route or 'unmatched'}"
            operation = scope.get(RESOURCE_OPERATION)
            span.resource = f"{resource} {operation}" if operation else resource
            span.finish()
            if outer is not None:  # whatever was active before (an in-process caller's span)
                tracer.context_provider.activate(outer)


def _status(span: Span, status: int) -> None:
    span.set_tag("http.status_code", str(status))
    if status >= 500:
        span.error = 1


def _describe(span: Span, scope: Scope, headers: list[tuple[bytes, bytes]]) -> None:
    host = agent = None
    for name, value in headers:
        if name == b"host":
            host = value[:LONGEST_TAG].decode("latin-1")
        elif name == b"user-agent":
            agent = value[:LONGEST_TAG].decode("latin-1")
    if host is None:
        server = scope.get("server") or ("unknown", None)
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    tags = {
        "component": "starlette",
        "span.kind": "server",
        "http.method": scope["method"],
        # The path only: a query string may carry what must not reach a trace.
        "http.url": f"{scope.get('scheme', 'http')}://{host}{scope['path']}",
        "http.version": scope.get("http_version") or "1.1",
    }
    if agent is not None:
        tags["http.useragent"] = agent
    span.set_tags(tags)


def _route(scope: Scope) -> str | None:
    """The path template of the route that served the request; for an answer given before
    routing (413, 415), of the route that would have (a walk only on those answers)."""
    route = scope.get("route")
    if route is None:
        app = scope.get("app")
        for candidate in getattr(app, "routes", ()):
            if candidate.matches(scope)[0] is not Match.NONE:
                route = candidate
                break
    return getattr(route, "path", None)


def _propagated(headers: list[tuple[bytes, bytes]]) -> Any:
    """The caller's trace context, if the request carries one (most carry none: no parsing)."""
    if not any(name in PROPAGATED for name, _ in headers):
        return None
    try:
        return HTTPPropagator.extract(  # type: ignore[no-untyped-call]
            {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
        )
    except Exception:  # a caller's broken header must not fail its request: a new trace
        return None
