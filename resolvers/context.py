"""The per-request context: who is asking, in which locale, at which instant, with fresh loaders
and the request's usecases and queries (``core/request_scope.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from core.auth import Principal
from core.bootstrap import Container
from core.errors import Forbidden, Unauthenticated
from core.request_scope import RequestScope
from resolvers.auth import caller
from resolvers.dataloaders import DataLoaders


class LiveLink(Protocol):
    """The WebSocket a subscription runs on (``resolvers/live.py``)."""

    def close_soon(self, code: int, reason: str) -> None: ...


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | None
    principal: Principal | None
    auth_error: Unauthenticated | None  # why the request's token was refused, if it was
    locales: tuple[str, ...]
    # One instant per request: every visibility decision in a response agrees.
    now: datetime
    loaders: DataLoaders
    scope: RequestScope
    link: LiveLink | None = None  # set on a WebSocket connection

    @classmethod
    def for_request(
        cls, container: Container, request: Request | WebSocket, response: Response | None
    ) -> Context:
        """The caller, the locales (``Accept-Language``, else the token's), one instant, and
        fresh loaders under the request's scope."""
        principal, auth_error = caller(request.headers.get("authorization"), container.verifier)
        locales = parse_accept_language(request.headers.get("accept-language"))
        if not locales and principal is not None and principal.locale:
            locales = (principal.locale.lower(),)
        loaders = DataLoaders.create(
            members=container.members, notifications=container.notifications, live=container.live
        )
        return cls(
            request=request,
            response=response,
            principal=principal,
            auth_error=auth_error,
            locales=locales,
            now=container.clock.now(),
            loaders=loaders,
            scope=RequestScope(
                container,
                members=loaders.members,
                notifications=loaders.notifications,
                live=loaders.live,
            ),
        )

    def member(self) -> Principal:
        """The caller (``IsMember`` has checked there is one)."""
        if self.principal is None:
            raise self.auth_error or Unauthenticated("authentication required")
        return self.principal

    def admin(self) -> Principal:
        principal = self.member()
        if self.scope.admin_role not in principal.roles:
            raise Forbidden("the admin role is required")
        return principal

    def after_write(self) -> None:
        """Forget what the loaders read before the request's write and move its instant past
        the write, so the response shows it."""
        self.loaders.clear()
        self.now = self.scope.now()


def parse_accept_language(header: str | None) -> tuple[str, ...]:
    """Locales from an ``Accept-Language`` header, best first; malformed parts are skipped."""
    if not header:
        return ()
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        pieces = part.strip().split(";")
        tag = pieces[0].strip()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        for parameter in pieces[1:]:
            name, _, value = parameter.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, index, tag.lower()))
    return tuple(tag for _, _, tag in sorted(ranked))
