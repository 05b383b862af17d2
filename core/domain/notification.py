"""Notifications as operators author them: localized content, audience, state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


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
