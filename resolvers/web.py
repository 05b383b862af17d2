"""The web pages (docs/WEB.md): the member's inbox at ``/`` and the operator console at ``/admin``,
their files under ``/web`` (plain ES modules: no build step, nothing from another origin), what
the pages need to know (``/web/config.json``), and in development only a sign-in that signs
development tokens for the demo accounts (``POST /dev/token``), refused in production as
``pointclub token`` is.

The pages are on in development and off in production unless ``POINTCLUB_WEB_PAGES=true``.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from core.auth import DevTokenIssuer
from core.domain.audience import MEMBER_ID
from core.domain.pointclub import RankTable
from core.settings import PROJECT_ROOT, Settings
from core.usecases.seed_demo import DEMO_ADMIN, MEMBERS

WEB_ROOT = PROJECT_ROOT / "web"
LOCALES = ("ja", "en")  # the pages' locale switch; content falls back to Japanese
DEV_TOKEN_TTL = timedelta(hours=12)
DEV_TOKEN_BODY_BYTES = 1024
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip", "via")

# Only this origin's files and connections; no inline script or style, no framing.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def web_routes(settings: Settings) -> list[BaseRoute]:
    """The pages' routes, or none when they are off."""
    if not settings.web_pages_enabled:
        return []
    routes: list[BaseRoute] = [
        Route("/", _page("inbox.html"), methods=["GET", "HEAD"]),
        Route("/admin", _page("admin.html"), methods=["GET", "HEAD"]),
        Route("/web/config.json", _config(settings), methods=["GET"]),
        Mount("/web", app=_Files(directory=WEB_ROOT), name="web"),
    ]
    if dev_sign_in(settings):
        routes.append(Route("/dev/token", _dev_token(settings), methods=["POST"]))
    return routes


def dev_sign_in(settings: Settings) -> bool:
    """The demo sign-in exists only in development with the public development secret: with a
    real secret, even a development server's tokens are worth stealing, so it signs none."""
    return not settings.is_production and settings.uses_development_secret


class _Files(StaticFiles):
    """The pages' modules and styles, with the pages' headers (``nosniff`` above all)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(PAGE_HEADERS)
        return response

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as missing:  # a 404 or 405 carries the same headers
            return PlainTextResponse(
                missing.detail, status_code=missing.status_code, headers=PAGE_HEADERS
            )


def _page(name: str) -> Any:
    path = WEB_ROOT / name

    async def page(request: Request) -> Response:
        return FileResponse(path, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    return page


def _config(settings: Settings) -> Any:
    accounts: list[dict[str, Any]] = []
    if dev_sign_in(settings):
        accounts = [
            {"userId": member.user_id, "label": f"{member.user_id} ({member.rank})", "admin": False}
            for member in MEMBERS
        ]
        accounts.append({"userId": DEMO_ADMIN, "label": f"{DEMO_ADMIN} (operator)", "admin": True})
    body = orjson.dumps(
        {
            "development": dev_sign_in(settings),
            "categories": list(settings.categories),
            "ranks": [rank.code for rank in RankTable.from_file(settings.ranks_file).ranks],
            "locales": list(LOCALES),
            "defaultLocale": settings.default_locale,
            "accounts": accounts,
        }
    )

    async def config(request: Request) -> Response:
        return Response(body, media_type="application/json", headers=PAGE_HEADERS)

    return config


def _dev_token(settings: Settings) -> Any:
    """``POST /dev/token {"userId": "...", "admin": false}`` → ``{"token", "expiresAt"}``.

    Development only (no route in production or with a real secret; the issuer refuses in
    production too), and only to a browser on this machine talking to this machine directly:
    - the peer is a loopback address (a server bound to another interface hands out nothing);
    - the request carries no proxy header (``Forwarded``, ``X-Forwarded-*``, ``X-Real-IP``,
      ``Via``): a local proxy makes a remote caller look like loopback. A forwarder that adds
      none (``ssh -R``, a port-forward) cannot be told apart: the secret is public, and such a
      forward publishes the development server, tokens or not (docs/SECURITY.md);
    - the ``Host`` is localhost or a loopback address, and an ``Origin``, when sent, is that
      same host: another site's page whose name resolves to 127.0.0.1 (DNS rebinding) sends
      its own name in both, and is refused;
    - the body is JSON, so another site's page cannot post here without a CORS preflight
      (which is refused: there is no CORS)."""
    issuer = DevTokenIssuer(settings)

    async def dev_token(request: Request) -> Response:
        if not _is_loopback(request.client.host if request.client else ""):
            return _refuse(403, "development tokens are only issued to this machine")
        if any(header in request.headers for header in PROXY_HEADERS):
            return _refuse(403, "development tokens are not issued through a proxy")
        host = request.headers.get("host", "")
        if not _is_loopback(_hostname(host)):
            return _refuse(403, "development tokens are only issued at localhost or 127.0.0.1")
        origin = request.headers.get("origin")
        if origin is not None and origin not in {f"http://{host}", f"https://{host}"}:
            return _refuse(403, "development tokens are only issued to this server's own pages")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _refuse(415, "send a JSON body")
        raw = await request.body()
        if len(raw) > DEV_TOKEN_BODY_BYTES:
            return _refuse(413, "the body is too large")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _refuse(400, "the body is not JSON")
        user_id = data.get("userId") if isinstance(data, dict) else None
        admin = data.get("admin", False) if isinstance(data, dict) else None
        if not isinstance(user_id, str) or not MEMBER_ID.fullmatch(user_id):
            return _refuse(
                400, "userId: 1 to 128 of A-Z a-z 0-9 _ . : @ -, starting with a letter or digit"
            )
        if not isinstance(admin, bool):
            return _refuse(400, "admin: true or false")
        now = datetime.now(UTC)
        token = issuer.issue(user_id, admin=admin, ttl=DEV_TOKEN_TTL, now=now)
        expires = (now + DEV_TOKEN_TTL).replace(microsecond=0).isoformat()
        return JSONResponse(
            {"token": token, "expiresAt": expires}, headers={"Cache-Control": "no-store"}
        )

    return dev_token


def _refuse(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def _hostname(host: str) -> str:
    """``Host``'s name without the port: ``[::1]:8000`` → ``::1``, ``localhost:8000`` →
    ``localhost``."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_loopback(host: str) -> bool:
    """127.0.0.0/8, ``::1``, ``::ffff:127.x.y.z`` (a dual-stack socket's IPv4 peer), localhost."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback
