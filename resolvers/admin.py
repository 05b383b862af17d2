"""Resolvers of the admin schema: check the admin role, call a usecase or query, map the result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import strawberry

from core.domain.notification import (
    Audience,
    LocalizedContent,
    NotificationDraft,
    NotificationPatch,
    NotificationState,
    Priority,
)
from core.domain.segment import SegmentRule
from core.errors import Conflict, FieldError, InvalidInput, NotFound, ValidationFailed
from core.queries.cursors import DEFAULT_PAGE
from resolvers.context import Context
from schema.admin import (
    AudienceInput,
    LocalizedContentInput,
    Notification,
    NotificationConnection,
    NotificationInput,
    NotificationPayload,
    NotificationUpdateInput,
    Segment,
    SegmentInput,
    SegmentPayload,
    SegmentRuleInput,
    UserError,
)
from schema.public import PointClubStatus

T = TypeVar("T")


def _context(info: strawberry.Info[Any, Any]) -> Context:
    context: Context = info.context
    context.require_admin()
    return context


def _draft(value: NotificationInput) -> NotificationDraft:
    return NotificationDraft(
        category=value.category,
        priority=value.priority or Priority.NORMAL,
        contents=_contents(value.contents),
        audience=_audience(value.audience),
        url=value.url,
        image_url=value.image_url,
        visible_from=value.visible_from,
        expires_at=value.expires_at,
    )


CLEARABLE = ("url", "image_url", "visible_from", "expires_at")


def _patch(value: NotificationUpdateInput) -> NotificationPatch:
    """UNSET (absent) stays unchanged; null clears where that is allowed."""
    given = {
        name: getattr(value, name)
        for name in ("category", "priority", "contents", "audience", *CLEARABLE)
        if getattr(value, name) is not strawberry.UNSET
    }
    cleared = [name for name, new in given.items() if new is None and name not in CLEARABLE]
    if cleared:
        raise ValidationFailed(
            [
                FieldError(_camel(name), "cannot be cleared; leave it out to keep it")
                for name in cleared
            ]
        )
    if "contents" in given:
        given["contents"] = _contents(value.contents or [])
    if "audience" in given:
        given["audience"] = _audience(given["audience"])
    return NotificationPatch(**given)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _contents(items: list[LocalizedContentInput]) -> dict[str, LocalizedContent]:
    contents: dict[str, LocalizedContent] = {}
    for item in items:
        if item.locale in contents:
            raise ValidationFailed([FieldError("contents", f"{item.locale} appears twice")])
        contents[item.locale] = LocalizedContent(title=item.title, body=item.body)
    return contents


def _audience(value: AudienceInput) -> Audience:
    return Audience(
        kind=value.kind,
        user_id=None if value.user_id is None else str(value.user_id),
        segment=value.segment,
    )


def _user_errors(error: Exception) -> list[UserError]:
    if isinstance(error, ValidationFailed):
        return [UserError(field=e.field, message=e.message, code=error.code) for e in error.errors]
    if isinstance(error, InvalidInput):
        return [UserError(field=error.field, message=str(error), code=error.code)]
    assert isinstance(error, NotFound | Conflict)
    return [UserError(field=None, message=str(error), code=error.code)]


async def _expected(call: Callable[[], Awaitable[T]]) -> tuple[T | None, list[UserError]]:
    """Run a command; expected failures become user errors, anything else propagates."""
    try:
        return await call(), []
    except (InvalidInput, NotFound, Conflict) as error:
        return None, _user_errors(error)


class AdminResolvers:
    async def notification(self, info: strawberry.Info[Any, Any], id: str) -> Notification | None:
        view = await _context(info).admin_queries.notification(id)
        return None if view is None else Notification.from_view(view)

    async def notifications(
        self,
        info: strawberry.Info[Any, Any],
        first: int | None,
        after: str | None,
        state: NotificationState | None,
    ) -> NotificationConnection:
        view = await _context(info).admin_queries.notifications(
            first=DEFAULT_PAGE if first is None else first, after=after, state=state
        )
        return NotificationConnection.from_view(view)

    async def segments(self, info: strawberry.Info[Any, Any]) -> list[Segment]:
        return [Segment.from_value(s) for s in await _context(info).admin_queries.segments()]

    async def segment_size(self, info: strawberry.Info[Any, Any], rule: SegmentRuleInput) -> int:
        return await _context(info).admin_queries.segment_size(_rule(rule))

    async def segment_members(self, info: strawberry.Info[Any, Any], segment: Segment) -> int:
        return await _context(info).admin_queries.size_of(segment.value)

    async def member(self, info: strawberry.Info[Any, Any], user_id: str) -> PointClubStatus | None:
        context = _context(info)
        view = await context.point_club.status(user_id, context.locales, context.now)
        return PointClubStatus.from_view(view)

    async def create_notification(
        self, info: strawberry.Info[Any, Any], input: NotificationInput, idempotency_key: str | None
    ) -> NotificationPayload:
        context = _context(info)
        actor = context.require_admin().user_id
        created, errors = await _expected(
            lambda: context.authoring.create(actor, _draft(input), idempotency_key)
        )
        return await self._payload(context, created.notification_id if created else None, errors)

    async def update_notification(
        self, info: strawberry.Info[Any, Any], id: str, input: NotificationUpdateInput
    ) -> NotificationPayload:
        context = _context(info)
        actor = context.require_admin().user_id
        updated, errors = await _expected(
            lambda: context.authoring.update(actor, id, _patch(input))
        )
        return await self._payload(context, id if updated else None, errors)

    async def schedule_notification(
        self, info: strawberry.Info[Any, Any], id: str, visible_from: datetime
    ) -> NotificationPayload:
        context = _context(info)
        actor = context.require_admin().user_id
        done, errors = await _expected(lambda: context.authoring.schedule(actor, id, visible_from))
        return await self._payload(context, id if done else None, errors)

    async def recall_notification(
        self, info: strawberry.Info[Any, Any], id: str, reason: str
    ) -> NotificationPayload:
        context = _context(info)
        actor = context.require_admin().user_id
        done, errors = await _expected(lambda: context.authoring.recall(actor, id, reason))
        return await self._payload(context, id if done else None, errors)

    async def create_segment(
        self, info: strawberry.Info[Any, Any], input: SegmentInput
    ) -> SegmentPayload:
        context = _context(info)
        actor = context.require_admin().user_id
        created, errors = await _expected(
            lambda: context.segment_authoring.create(actor, input.name, _rule(input.rule))
        )
        return SegmentPayload(
            segment=None if created is None else Segment.from_value(created), user_errors=errors
        )

    async def _payload(
        self, context: Context, notification_id: str | None, errors: list[UserError]
    ) -> NotificationPayload:
        if notification_id is None:
            return NotificationPayload(notification=None, user_errors=errors)
        view = await context.admin_queries.notification(notification_id)
        return NotificationPayload(
            notification=None if view is None else Notification.from_view(view), user_errors=errors
        )


def _rule(value: SegmentRuleInput) -> SegmentRule:
    return SegmentRule(kind=value.kind, ranks=tuple(value.ranks or ()))
