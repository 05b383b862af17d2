"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: DynamoDB answers)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.bootstrap import Container
from core.errors import Unavailable


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """503 when DynamoDB does not answer. The event broker is reported, not required: without
    it HTTP works and subscriptions are refused with a retryable close (``events``: ``ok``,
    ``unavailable``, or ``off`` when none is configured)."""
    container: Container = request.app.state.container
    live = getattr(request.app.state, "live", None)
    events = live.hub.status if live is not None else "off"
    try:
        await container.system.ping()
    except Unavailable:
        return JSONResponse(
            {"status": "unavailable", "dynamodb": "unreachable", "events": events},
            status_code=503,
        )
    body: dict[str, object] = {"status": "ready", "events": events}
    if live is not None:
        body["subscriptions"] = live.hub.subscriptions
    return JSONResponse(body)
