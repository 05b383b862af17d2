"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: DynamoDB answers)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.bootstrap import Container
from core.errors import Unavailable


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    container: Container = request.app.state.container
    try:
        await container.system.ping()
    except Unavailable:
        return JSONResponse({"status": "unavailable", "dynamodb": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ready"})
