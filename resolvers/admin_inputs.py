"""Admin inputs into the core's values, and the core's expected refusals into ``userErrors``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from core.domain.missions import MissionGoal
from core.domain.notification import (
    Audience,
    LocalizedContent,
    NotificationDraft,
    NotificationPatch,
    Priority,
)
from core.domain.segment import SegmentRule
from core.errors import Conflict, FieldError, InvalidInput, NotFound, ValidationFailed
from core.usecases.missions import MissionDraft
from schema.admin import (
    AudienceInput,
    LocalizedContentInput,
    NotificationInput,
    NotificationUpdateInput,
    SegmentRuleInput,
    UserError,
)
from schema.missions import MissionInput

T = TypeVar("T")
CLEARABLE = ("url", "image_url", "visible_from", "expires_at")


def draft_of(value: NotificationInput) -> NotificationDraft:
    return NotificationDraft(
        category=value.category,
        priority=value.priority or Priority.NORMAL,
        contents=contents_of(value.contents),
        audience=audience_of(value.audience),
        url=value.url,
        image_url=value.image_url,
        visible_from=value.visible_from,
        expires_at=value.expires_at,
    )


def patch_of(value: NotificationUpdateInput) -> NotificationPatch:
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
        given["contents"] = contents_of(value.contents or [])
    if "audience" in given:
        given["audience"] = audience_of(given["audience"])
    return NotificationPatch(**given)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def contents_of(items: list[LocalizedContentInput]) -> dict[str, LocalizedContent]:
    contents: dict[str, LocalizedContent] = {}
    for item in items:
        if item.locale in contents:
            raise ValidationFailed([FieldError("contents", f"{item.locale} appears twice")])
        contents[item.locale] = LocalizedContent(title=item.title, body=item.body)
    return contents


def audience_of(value: AudienceInput) -> Audience:
    return Audience(
        kind=value.kind,
        user_id=None if value.user_id is None else str(value.user_id),
        segment=value.segment,
        rule=value.rule,
    )


def rule_of(value: SegmentRuleInput) -> SegmentRule:
    return SegmentRule(kind=value.kind, ranks=tuple(value.ranks or ()))


def user_errors(error: InvalidInput | NotFound | Conflict) -> list[UserError]:
    if isinstance(error, ValidationFailed):
        return [UserError(field=e.field, message=e.message, code=error.code) for e in error.errors]
    if isinstance(error, InvalidInput):
        return [UserError(field=error.field, message=str(error), code=error.code)]
    return [UserError(field=None, message=str(error), code=error.code)]


async def expected(call: Callable[[], Awaitable[T]]) -> tuple[T | None, list[UserError]]:
    """Run a command; expected failures become user errors, anything else propagates."""
    try:
        return await call(), []
    except (InvalidInput, NotFound, Conflict) as error:
        return None, user_errors(error)


def mission_draft_of(value: MissionInput) -> MissionDraft:
    locales = [c.locale for c in value.contents]
    if len(set(locales)) != len(locales):
        raise InvalidInput("each locale once", field="contents")
    for name, moment in (("startsAt", value.starts_at), ("endsAt", value.ends_at)):
        if moment.tzinfo is None:
            raise InvalidInput("a time with an offset (Z or +09:00)", field=name)
    return MissionDraft(
        contents={c.locale: LocalizedContent(c.title, c.body) for c in value.contents},
        goal=MissionGoal(value.goal.kind, value.goal.target, value.goal.event),
        starts_at=value.starts_at,
        ends_at=value.ends_at,
        reward=value.reward,
        reward_valid_days=value.reward_valid_days,
    )
