"""The reference for the GraphQL tax: a minimal hand-written Starlette JSON endpoint returning the
same home screen with the same DynamoDB calls (one Query for state, club and the first page, one
GetItem of the recall-list copy, one BatchGetItem of the notifications), served by uvicorn the
same way. Run: `uvicorn bench.reference:create --factory` with the same POINTCLUB_* settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.bootstrap import Container, open_container
from core.domain.club_status import club_status
from core.domain.inbox import InboxState
from core.errors import Unauthenticated
from core.heap import freeze_startup_heap
from core.ports import InboxScanRequest
from core.settings import Settings


def create() -> Starlette:
    settings = Settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_container(settings) as container:
            app.state.container = container
            freeze_startup_heap()  # as the GraphQL server does after its startup
            yield

    return Starlette(routes=[Route("/home", home)], lifespan=lifespan)


async def home(request: Request) -> Response:
    container: Container = request.app.state.container
    try:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        user_id = container.verifier.verify(token).user_id
    except Unauthenticated:
        return JSONResponse({"error": "unauthenticated"}, status_code=401)
    first = int(request.query_params.get("first", "20"))
    now = container.clock.now()
    scan, live = await asyncio.gather(
        container.members.scan_inbox(
            user_id, InboxScanRequest(after=None, limit=first + 9, now=now, with_status=True)
        ),
        container.live.live_for(user_id),
    )
    state = scan.state or InboxState()
    seen = live.seen_by(scan.club)
    # The same merge as the GraphQL server: own entries and the broadcasts that reach the member.
    own = [e for e in scan.entries if e.is_visible(now, seen, include_archived=False)]
    broadcasts = [
        b.entry(b.visible_from)
        for b in seen.broadcasts.values()
        if b.notification_id not in state.own_broadcasts and b.is_visible(now)
    ]
    entries = sorted([*own, *broadcasts], key=lambda e: e.position, reverse=True)[:first]
    found = await container.notifications.get_many(  # through the same shared cache
        [e.notification_id for e in entries], as_of=seen.content_version
    )
    status = club_status(scan.club, container.ranks, now)
    body = {
        "unreadCount": state.unread_count(now, seen),
        "inbox": [
            {
                "id": e.notification_id,
                "title": found[e.notification_id].content_for((), "ja").title,
                "isRead": not state.is_unread(e),
            }
            for e in entries
            if e.notification_id in found
        ],
        "pointClub": {"balance": status.balance, "rank": {"code": status.rank.code}},
    }
    return Response(
        orjson.dumps(body),  # the GraphQL server's encoder too
        media_type="application/json",
    )
