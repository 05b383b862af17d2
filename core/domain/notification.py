"""Notifications as operators author them: localized content, audience, state."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import Enum, StrEnum
from typing import Final
from urllib.parse import urlsplit

from core.domain.inbox import InboxEntry
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


@dataclass(frozen=True)
class LocalizedContent:
    title: str
    body: str


@dataclass(frozen=True)
class Audience:
    kind: AudienceKind
    user_id: str | None = None
    segment: str | None = None


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


@dataclass(frozen=True)
class Notification:
    """A notification's content and state; members' inbox entries point at it by id."""

    notification_id: str
    state: NotificationState
    category: str
    priority: Priority
    contents: Mapping[str, LocalizedContent]
    audience: Audience
    created_at: datetime
    created_by: str
    url: str | None = None
    image_url: str | None = None
    visible_from: datetime | None = None
    expires_at: datetime | None = None
    audit: tuple[AuditRecord, ...] = field(default=(), compare=False)
    # Bumped by every save; a save is refused unless the stored version is still the one read
    # (optimistic concurrency: two editors, or an edit and the fan-out, never overwrite each other).
    version: int = field(default=0, compare=False)

    def changed(self, audit: AuditRecord, **fields: object) -> Notification:
        """This notification with ``fields`` changed and ``audit`` appended, to be saved."""
        return replace(self, audit=(*self.audit, audit), **fields)  # type: ignore[arg-type]

    @property
    def draft(self) -> NotificationDraft:
        return NotificationDraft(
            category=self.category,
            priority=self.priority,
            contents=self.contents,
            audience=self.audience,
            url=self.url,
            image_url=self.image_url,
            visible_from=self.visible_from,
            expires_at=self.expires_at,
        )

    def entry(self, delivered_at: datetime) -> InboxEntry:
        """The inbox entry a member receives (the notification must have its visibleFrom)."""
        if self.visible_from is None:
            raise ValueError(f"notification {self.notification_id} has no visibleFrom yet")
        return InboxEntry(
            notification_id=self.notification_id,
            visible_from=self.visible_from,
            category=self.category,
            expires_at=self.expires_at,
            delivered_at=delivered_at,
        )

    def content_for(self, locales: tuple[str, ...], fallback: str) -> LocalizedContent:
        """The content in the first of ``locales`` it has, else the fallback locale, else any."""
        for locale in (*locales, fallback):
            content = self.contents.get(locale)
            if content is not None:
                return content
            base = locale.split("-")[0]
            if base in self.contents:
                return self.contents[base]
        return next(iter(self.contents.values()))

    @property
    def recalled(self) -> bool:
        return self.state is NotificationState.RECALLED


def listing_position(notification: Notification) -> str:
    """Where a notification sits in the admin listings (newest created first)."""
    return f"{iso_key(notification.created_at)}#{notification.notification_id}"
