"""Resolvers of the public schema: check the viewer, call a core query, map the view."""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry
import structlog

from core.queries.cursors import DEFAULT_PAGE
from core.queries.inbox import InboxFilterSpec
from resolvers.context import Context
from schema.public import (
    InboxConnection,
    InboxFilter,
    InboxItem,
    PointClubStatus,
    PointHistoryConnection,
    ReadStatePayload,
    Viewer,
)

log = structlog.get_logger("pointclub.api")


def _context(info: strawberry.Info[Any, Any]) -> Context:
    context: Context = info.context
    return context


class PublicResolvers:
    async def viewer(self, info: strawberry.Info[Any, Any]) -> Viewer:
        principal = _context(info).require_member()
        return Viewer(user_id=strawberry.ID(principal.user_id))

    async def inbox(
        self,
        info: strawberry.Info[Any, Any],
        viewer: Viewer,
        first: int | None,
        after: str | None,
        filter: InboxFilter | None,
    ) -> InboxConnection:
        context = _context(info)
        spec = InboxFilterSpec()
        if filter is not None:
            spec = InboxFilterSpec(
                categories=None if filter.categories is None else frozenset(filter.categories),
                unread_only=bool(filter.unread_only),
                include_archived=bool(filter.include_archived),
            )
        view = await context.inbox.page(
            str(viewer.user_id),
            first=DEFAULT_PAGE if first is None else first,
            after=after,
            spec=spec,
            locales=context.locales,
            now=context.now,
        )
        return InboxConnection.from_view(view)

    async def notification(
        self, info: strawberry.Info[Any, Any], viewer: Viewer, id: str
    ) -> InboxItem | None:
        context = _context(info)
        view = await context.inbox.item(str(viewer.user_id), id, context.locales, context.now)
        return None if view is None else InboxItem.from_view(view)

    async def unread_count(
        self, info: strawberry.Info[Any, Any], viewer: Viewer, categories: list[str] | None
    ) -> int:
        context = _context(info)
        return await context.inbox.unread_count(str(viewer.user_id), categories, context.now)

    async def point_club(self, info: strawberry.Info[Any, Any], viewer: Viewer) -> PointClubStatus:
        context = _context(info)
        view = await context.point_club.status(str(viewer.user_id), context.locales, context.now)
        return PointClubStatus.from_view(view)

    async def point_history(
        self,
        info: strawberry.Info[Any, Any],
        status: PointClubStatus,
        first: int | None,
        after: str | None,
    ) -> PointHistoryConnection:
        view = await _context(info).point_club.history(
            status.user_id, first=DEFAULT_PAGE if first is None else first, after=after
        )
        return PointHistoryConnection.from_view(view)

    async def mark_notifications_read(
        self, info: strawberry.Info[Any, Any], ids: list[str]
    ) -> ReadStatePayload:
        context = _context(info)
        user_id = context.require_member().user_id
        touched = await context.read_state.mark_read(user_id, ids)
        return await self._payload(context, user_id, touched, "read")

    async def mark_notification_unread(
        self, info: strawberry.Info[Any, Any], id: str
    ) -> ReadStatePayload:
        context = _context(info)
        user_id = context.require_member().user_id
        touched = await context.read_state.mark_unread(user_id, id)
        return await self._payload(context, user_id, touched, "unread")

    async def mark_all_notifications_read(
        self, info: strawberry.Info[Any, Any], categories: list[str] | None
    ) -> ReadStatePayload:
        context = _context(info)
        user_id = context.require_member().user_id
        await context.read_state.mark_all_read(user_id, categories)
        return await self._payload(context, user_id, [], "read_all")

    async def archive_notifications(
        self, info: strawberry.Info[Any, Any], ids: list[str]
    ) -> ReadStatePayload:
        context = _context(info)
        user_id = context.require_member().user_id
        touched = await context.read_state.archive(user_id, ids)
        return await self._payload(context, user_id, touched, "archive")

    async def _payload(
        self, context: Context, user_id: str, ids: list[str], action: str
    ) -> ReadStatePayload:
        # Read our own write: forget what the loaders saw before it, and take a fresh instant.
        context.loaders.clear()
        context.after_write()
        count, items = await asyncio.gather(
            context.inbox.unread_count(user_id, None, context.now),
            context.inbox.items(user_id, ids, context.locales, context.now),
        )
        context.read_stats_later(user_id)
        log.info("request.read_state", action=action, ids=len(ids), unread_count=count)
        return ReadStatePayload(
            unread_count=count, items=[InboxItem.from_view(item) for item in items]
        )
