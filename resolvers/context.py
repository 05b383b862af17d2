"""The per-request context: who is asking, in which locale, at which instant, with fresh loaders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from core.auth import Principal
from core.errors import Forbidden, Unauthenticated
from core.ports import Clock
from core.queries.admin import AdminQueries
from core.queries.inbox import InboxQueries
from core.queries.pointclub import PointClubQueries
from core.usecases.authoring import NotificationAuthoring
from core.usecases.read_state import ReadStateCommands
from core.usecases.segments import SegmentAuthoring
from resolvers.background import ReadCounting
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
    read_state: ReadStateCommands
    clock: Clock
    read_counting: ReadCounting
    admin_queries: AdminQueries
    authoring: NotificationAuthoring
    segment_authoring: SegmentAuthoring
    admin_role: str
    public: object  # the PublicResolvers implementation (see schema/public.py)
    admin: object  # the AdminResolvers implementation (see schema/admin.py)

    def require_member(self) -> Principal:
        if self.principal is None:
            raise self.auth_error or Unauthenticated("authentication required")
        return self.principal

    def require_admin(self) -> Principal:
        principal = self.require_member()
        if self.admin_role not in principal.roles:
            raise Forbidden("the admin role is required")
        return principal

    def after_write(self) -> None:
        """Move the request's instant past a write it made, so its response sees the write."""
        self.now = self.clock.now()

    def read_stats_later(self, user_id: str) -> None:
        self.read_counting.schedule(user_id)


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
