"""The floor under the GraphQL app for `bench tax`: the home screen from the GraphQL server's own
queries (`core/queries` through the request's DataLoaders, as the resolvers call them), with no
GraphQL in between: no Strawberry view, no parse, validation or extensions, no executor. It
answers the JSON the GraphQL server answers, byte for byte, so the GraphQL app's CPU less this
one's is what the GraphQL machinery costs, and this one's less the reference's is what the
queries and their views cost over the reference's dictionary of three fields. Not a server
anyone runs: a measurement of what a compiled plan for a known document could save at most.
"""

from __future__ import annotations

import asyncio

import orjson
from starlette.requests import Request
from starlette.responses import Response

from core.bootstrap import Container
from core.queries.inbox import InboxFilterSpec
from resolvers.context import Context


async def home(request: Request) -> Response:
    """``GET /home?first=N`` with the member's bearer token, as the reference is asked."""
    container: Container = request.app.state.container
    context = Context.for_request(container, request, None)  # as the GraphQL view builds it
    if context.principal is None:
        return Response(orjson.dumps({"error": str(context.auth_error)}), status_code=401)
    scope, locales, now = context.scope, context.locales, context.now
    user_id = context.principal.user_id
    first = int(request.query_params.get("first", "20"))
    unread, page, club = await asyncio.gather(
        scope.inbox.unread_count(user_id, None, now),
        scope.inbox.page(
            user_id, first=first, after=None, spec=InboxFilterSpec(), locales=locales, now=now
        ),
        scope.point_club.status(user_id, locales, now),
    )
    viewer = {
        "unreadCount": unread,
        "inbox": {
            "edges": [
                {"node": {"id": item.id, "title": item.title, "isRead": item.is_read}}
                for item in page.items
            ]
        },
        "pointClub": {"balance": club.balance, "rank": {"code": club.rank.code}},
    }
    return Response(orjson.dumps({"data": {"viewer": viewer}}), media_type="application/json")
