"""What operators write: the values a notification is made of, drafts and patches of them, and
the checks a draft must pass. Pure; ``core/domain/notification.py`` builds the aggregate on them."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import Enum, StrEnum
from typing import Final
from urllib.parse import urlsplit

from core.domain.time import iso_key
from core.errors import FieldError


class NotificationState(StrEnum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    PREPARING = "PREPARING"
    PUBLISHED = "PUBLISHED"
    RECALLED = "RECALLED"


class Priority(StrEnum):
    NORMAL = "NORMAL"
    HIGH = "HIGH"


class AudienceKind(StrEnum):
    USER = "USER"
    SEGMENT = "SEGMENT"


class AudienceRule(StrEnum):
    """Who a broadcast (a SEGMENT audience of every member or of ranks) reaches: the members at
    its visibleFrom (the default, as a campaign list drawn then), or the live audience."""

    MEMBERS_AT_VISIBLE_FROM = "MEMBERS_AT_VISIBLE_FROM"
    LIVE = "LIVE"


@dataclass(frozen=True)
class LocalizedContent:
    title: str
    body: str


@dataclass(frozen=True)
class Audience:
    kind: AudienceKind
    user_id: str | None = None
    segment: str | None = None
    rule: AudienceRule = AudienceRule.MEMBERS_AT_VISIBLE_FROM


MAX_TITLE = 120
MAX_BODY = 4_000
REQUIRED_LOCALE = "ja"
LOCALE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")


@dataclass(frozen=True)
class NotificationDraft:
    """What an operator submits to create or update a notification."""

    category: str
    priority: Priority
    contents: Mapping[str, LocalizedContent]
    audience: Audience
    url: str | None = None
    image_url: str | None = None
    visible_from: datetime | None = None
    expires_at: datetime | None = None

    @property
    def content_fields(self) -> tuple[object, ...]:
        return (dict(self.contents), self.url, self.image_url)

    @property
    def delivery_fields(self) -> tuple[object, ...]:
        return (self.category, self.priority, self.audience, self.visible_from, self.expires_at)


class Unchanged(Enum):
    """The value of a patch field the operator did not send."""

    UNCHANGED = "UNCHANGED"


UNCHANGED: Final = Unchanged.UNCHANGED


@dataclass(frozen=True)
class NotificationPatch:
    """An update as sent: a field left ``UNCHANGED`` keeps its value, ``None`` clears it (only
    ``url``, ``image_url``, ``visible_from`` and ``expires_at`` can be cleared)."""

    category: str | Unchanged = UNCHANGED
    priority: Priority | Unchanged = UNCHANGED
    contents: Mapping[str, LocalizedContent] | Unchanged = UNCHANGED
    audience: Audience | Unchanged = UNCHANGED
    url: str | Unchanged | None = UNCHANGED
    image_url: str | Unchanged | None = UNCHANGED
    visible_from: datetime | Unchanged | None = UNCHANGED
    expires_at: datetime | Unchanged | None = UNCHANGED

    def apply(self, draft: NotificationDraft) -> NotificationDraft:
        given = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not UNCHANGED
        }
        return replace(draft, **given)


def _https(value: str | None) -> bool:
    if value is None:
        return True
    parsed = urlsplit(value)
    return parsed.scheme == "https" and bool(parsed.netloc) and len(value) <= 2_048


def check_draft(
    draft: NotificationDraft, *, categories: set[str], now: datetime
) -> list[FieldError]:
    """Field-level problems of a draft, in the order an admin UI shows them."""
    errors: list[FieldError] = []
    if draft.category not in categories:
        errors.append(
            FieldError("category", f"unknown category; one of: {', '.join(sorted(categories))}")
        )
    if REQUIRED_LOCALE not in draft.contents:
        errors.append(FieldError("contents", "Japanese (ja) content is required"))
    for locale, content in draft.contents.items():
        where = f"contents.{locale}"
        if not LOCALE.fullmatch(locale):
            errors.append(FieldError(f"{where}.locale", "not a locale tag like ja or en-US"))
        if not content.title.strip():
            errors.append(FieldError(f"{where}.title", "must not be empty"))
        elif len(content.title) > MAX_TITLE:
            errors.append(FieldError(f"{where}.title", f"at most {MAX_TITLE} characters"))
        if not content.body.strip():
            errors.append(FieldError(f"{where}.body", "must not be empty"))
        elif len(content.body) > MAX_BODY:
            errors.append(FieldError(f"{where}.body", f"at most {MAX_BODY:,} characters"))
    for name, value in (("url", draft.url), ("imageUrl", draft.image_url)):
        if not _https(value):
            errors.append(FieldError(name, "must be an https:// URL"))
    audience = draft.audience
    if audience.kind is AudienceKind.USER and not (audience.user_id or "").strip():
        errors.append(FieldError("audience.userId", "a USER audience names the member"))
    if audience.kind is AudienceKind.SEGMENT and not (audience.segment or "").strip():
        errors.append(FieldError("audience.segment", "a SEGMENT audience names the segment"))
    if (
        audience.kind is AudienceKind.USER
        and audience.rule is not AudienceRule.MEMBERS_AT_VISIBLE_FROM
    ):
        errors.append(FieldError("audience.rule", "only a SEGMENT audience takes a rule"))
    if draft.expires_at is not None:
        if draft.visible_from is not None and draft.expires_at <= draft.visible_from:
            errors.append(FieldError("expiresAt", "must be after visibleFrom"))
        elif draft.expires_at <= now:
            errors.append(FieldError("expiresAt", "must be in the future"))
    return errors


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    action: str
    detail: str


def fingerprint(draft: NotificationDraft) -> str:
    """A stable digest of what was asked, to tell a replay from a different request."""
    document = {
        "category": draft.category,
        "priority": draft.priority.value,
        "contents": {k: [v.title, v.body] for k, v in sorted(draft.contents.items())},
        "audience": [draft.audience.kind.value, draft.audience.user_id, draft.audience.segment]
        + (
            []
            if draft.audience.rule is AudienceRule.MEMBERS_AT_VISIBLE_FROM
            else [draft.audience.rule.value]
        ),
        "url": draft.url,
        "imageUrl": draft.image_url,
        "visibleFrom": None if draft.visible_from is None else iso_key(draft.visible_from),
        "expiresAt": None if draft.expires_at is None else iso_key(draft.expires_at),
    }
    encoded = json.dumps(document, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


def delivery_changes(
    old: NotificationDraft, new: NotificationDraft
) -> list[tuple[str, object, object]]:
    return [
        ("category", old.category, new.category),
        ("priority", old.priority, new.priority),
        ("audience", old.audience, new.audience),
        ("visibleFrom", old.visible_from, new.visible_from),
        ("expiresAt", old.expires_at, new.expires_at),
    ]


def changed_fields(old: NotificationDraft, new: NotificationDraft) -> list[str]:
    pairs = [
        *delivery_changes(old, new),
        ("contents", dict(old.contents), dict(new.contents)),
        ("url", old.url, new.url),
        ("imageUrl", old.image_url, new.image_url),
    ]
    return [name for name, before, after in pairs if before != after]


def describe(draft: NotificationDraft) -> str:
    audience = (
        draft.audience.user_id
        if draft.audience.kind is AudienceKind.USER
        else draft.audience.segment
    )
    live = ", live audience" if draft.audience.rule is AudienceRule.LIVE else ""
    return (
        f"category {draft.category}, {draft.audience.kind.value.lower()} {audience}{live}, "
        f"locales {','.join(sorted(draft.contents))}"
    )


@dataclass(frozen=True)
class IdempotencyClaim:
    """An operator's idempotency key for a create, and a fingerprint of what was asked."""

    actor: str
    key: str
    fingerprint: str
    expires_at: datetime
