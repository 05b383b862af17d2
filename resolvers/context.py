"""The per-request context: who is asking, in which locale, at which instant, with fresh loaders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from core.auth import Principal
from core.errors import Unauthenticated
from core.queries.inbox import InboxQueries
from core.queries.pointclub import PointClubQueries
from resolvers.dataloaders import DataLoaders


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | None
    principal: Principal | None
    auth_error: Unauthenticated | None
    locales: tuple[str, ...]
    # One instant per request: every visibility decision in a response agrees.
    now: datetime
    loaders: DataLoaders
    inbox: InboxQueries
    point_club: PointClubQueries
    public: object  # the PublicResolvers implementation (see schema/public.py)

    def require_member(self) -> Principal:
        if self.principal is None:
            raise self.auth_error or Unauthenticated("authentication required")
        return self.principal


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
