"""The public schema's mutations: a member's read state. Each answers with the new exact unread
count and the member's own items among the ids, read after the write."""

from __future__ import annotations

import asyncio

import strawberry
import structlog

from resolvers.context import Context
from resolvers.permissions import IsMember
from schema.public import InboxItem, ReadStatePayload

log = structlog.get_logger("pointclub.api")


async def _payload(context: Context, ids: list[str], action: str) -> ReadStatePayload:
    user_id = context.member().user_id
    context.after_write()  # read our own write
    count, items = await asyncio.gather(
        context.scope.inbox.unread_count(user_id, None, context.now),
        context.scope.inbox.items(user_id, ids, context.locales, context.now),
    )
    context.scope.count_reads_later(user_id)
    log.info("request.read_state", action=action, ids=len(ids), unread_count=count)
    return ReadStatePayload(unread_count=count, items=[InboxItem.from_view(item) for item in items])


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Mark notifications read; idempotent, unknown ids ignored.",
        permission_classes=[IsMember],
    )
    async def mark_notifications_read(
        self, info: strawberry.Info[Context, None], ids: list[strawberry.ID]
    ) -> ReadStatePayload:
        context = info.context
        touched = await context.scope.read_state.mark_read(
            context.member().user_id, [str(i) for i in ids]
        )
        return await _payload(context, touched, "read")

    @strawberry.mutation(
        description="Mark one notification unread again.", permission_classes=[IsMember]
    )
    async def mark_notification_unread(
        self, info: strawberry.Info[Context, None], id: strawberry.ID
    ) -> ReadStatePayload:
        context = info.context
        touched = await context.scope.read_state.mark_unread(context.member().user_id, str(id))
        return await _payload(context, touched, "unread")

    @strawberry.mutation(
        description="Mark every visible notification read (of some categories); one write.",
        permission_classes=[IsMember],
    )
    async def mark_all_notifications_read(
        self, info: strawberry.Info[Context, None], categories: list[str] | None = None
    ) -> ReadStatePayload:
        context = info.context
        await context.scope.read_state.mark_all_read(context.member().user_id, categories)
        return await _payload(context, [], "read_all")

    @strawberry.mutation(
        description="Archive notifications: gone from lists and counts.",
        permission_classes=[IsMember],
    )
    async def archive_notifications(
        self, info: strawberry.Info[Context, None], ids: list[strawberry.ID]
    ) -> ReadStatePayload:
        context = info.context
        touched = await context.scope.read_state.archive(
            context.member().user_id, [str(i) for i in ids]
        )
        return await _payload(context, touched, "archive")
