"""The public schema's subscription: the member's live inbox (``resolvers/live.py`` runs the
connection, ``core/infra/event_hub.py`` the feed, ``core/queries/live_events.py`` each event)."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator

import strawberry

from core.domain.events import FeedEnded
from core.errors import Unavailable
from resolvers.context import Context
from resolvers.live import UNAVAILABLE
from resolvers.live_service import LiveService
from resolvers.permissions import IsMember
from schema.public import InboxEvent


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "The viewer's inbox changes, as they happen (graphql-transport-ws; the token in "
            'connection_init as {authorization: "Bearer <token>"}). First a SYNC event; then '
            "one event per change, each with the exact unread count after it and the next seq. "
            "After any reconnect, refetch the inbox."
        ),
        permission_classes=[IsMember],
    )
    async def inbox_events(
        self, info: strawberry.Info[Context, None]
    ) -> AsyncGenerator[InboxEvent, None]:
        context = info.context
        live: LiveService = context.request.app.state.live
        link = context.link
        user_id = context.member().user_id
        try:
            async with live.hub.feed(user_id) as feed:
                if link is not None:
                    feed.when_ended(lambda ended: link.close_soon(ended.code, ended.reason))
                seq = feed.sequence.value
                first = await live.render(user_id, None, seq, context.locales, time.monotonic())
                yield InboxEvent.from_view(first)
                while True:
                    _, item = await feed.next()
                    view = await live.render(
                        user_id, item.change, feed.sequence.value, context.locales, item.arrived
                    )
                    yield InboxEvent.from_view(view)
        except FeedEnded as ended:
            if link is not None:
                link.close_soon(ended.code, ended.reason)
        except (Unavailable, TimeoutError):
            # The store did not answer: the count cannot be given, so the client reconnects.
            if link is not None:
                link.close_soon(*UNAVAILABLE)
