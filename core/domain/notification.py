"""A notification as stored: its content and audience, its state and the audited transitions
between states (DRAFT → SCHEDULED → PREPARING → PUBLISHED, or RECALLED from any of them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from core.domain.inbox import InboxEntry
from core.domain.notification_draft import (
    LOCALE,
    MAX_BODY,
    MAX_TITLE,
    REQUIRED_LOCALE,
    UNCHANGED,
    Audience,
    AudienceKind,
    AudienceRule,
    AuditRecord,
    LocalizedContent,
    NotificationDraft,
    NotificationPatch,
    NotificationState,
    Priority,
    Unchanged,
    changed_fields,
    check_draft,
    describe,
)
from core.domain.time import iso_key

__all__ = [
    "AMENDABLE",
    "EDITABLE",
    "LOCALE",
    "MAX_BODY",
    "MAX_TITLE",
    "REQUIRED_LOCALE",
    "UNCHANGED",
    "Audience",
    "AudienceKind",
    "AudienceRule",
    "AuditRecord",
    "LocalizedContent",
    "Notification",
    "NotificationDraft",
    "NotificationPatch",
    "NotificationState",
    "Priority",
    "Unchanged",
    "check_draft",
    "listing_position",
]

EDITABLE = frozenset({NotificationState.DRAFT, NotificationState.SCHEDULED})
AMENDABLE = frozenset({NotificationState.PREPARING, NotificationState.PUBLISHED})


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
    # A broadcast (stored once, not copied into inboxes): the members it reached when published.
    broadcast_reach: int | None = None

    @classmethod
    def authored(
        cls, notification_id: str, draft: NotificationDraft, at: datetime, actor: str
    ) -> Notification:
        """A new DRAFT as an operator wrote it, with its creation audited."""
        return cls(
            notification_id=notification_id,
            state=NotificationState.DRAFT,
            category=draft.category,
            priority=draft.priority,
            contents=dict(draft.contents),
            audience=draft.audience,
            created_at=at,
            created_by=actor,
            url=draft.url,
            image_url=draft.image_url,
            visible_from=draft.visible_from,
            expires_at=draft.expires_at,
            audit=(AuditRecord(at, actor, "create", describe(draft)),),
        )

    @property
    def last_audit(self) -> AuditRecord:
        """The record of the latest transition: what a save appends to the stored audit."""
        return self.audit[-1]

    def edit(self, draft: NotificationDraft, at: datetime, actor: str) -> Notification:
        """The draft applied: all of it before the fan-out starts; after, the delivery fields
        (visibility, expiry) stay as they were and the change is audited as an amend."""
        before = self.draft
        editable = self.state in EDITABLE
        changed = changed_fields(before, draft)
        return self._moved(
            AuditRecord(
                at,
                actor,
                "update" if editable else "amend",
                "changed: " + (", ".join(changed) or "nothing"),
            ),
            category=draft.category,
            priority=draft.priority,
            contents=dict(draft.contents),
            audience=draft.audience,
            url=draft.url,
            image_url=draft.image_url,
            visible_from=draft.visible_from if editable else self.visible_from,
            expires_at=draft.expires_at if editable else self.expires_at,
        )

    def schedule(self, visible_from: datetime, at: datetime, actor: str) -> Notification:
        detail = f"visibleFrom {iso_key(visible_from)}"
        return self._moved(
            AuditRecord(at, actor, "schedule", detail),
            state=NotificationState.SCHEDULED,
            visible_from=visible_from,
        )

    def prepare(self, at: datetime, actor: str) -> Notification:
        """The fan-out starts: PREPARING, and visibleFrom fixed (now, unless scheduled)."""
        return self._moved(
            AuditRecord(at, actor, "prepare", "fan-out started"),
            state=NotificationState.PREPARING,
            visible_from=self.visible_from or at,
        )

    def publish(self, at: datetime, actor: str) -> Notification:
        return self._moved(
            AuditRecord(at, actor, "publish", "fan-out finished"),
            state=NotificationState.PUBLISHED,
        )

    def publish_broadcast(self, reach: int, at: datetime, actor: str) -> Notification:
        """Published at once as a broadcast: visibleFrom fixed (now, unless scheduled)."""
        return self._moved(
            AuditRecord(at, actor, "publish", f"broadcast to {reach} members"),
            state=NotificationState.PUBLISHED,
            visible_from=self.visible_from or at,
            broadcast_reach=reach,
        )

    def recall(self, reason: str, at: datetime, actor: str) -> Notification:
        return self._moved(
            AuditRecord(at, actor, "recall", reason), state=NotificationState.RECALLED
        )

    def changed(self, audit: AuditRecord, **fields: object) -> Notification:
        """This notification with ``fields`` changed and ``audit`` appended, to be saved."""
        return self._moved(audit, **fields)

    def _moved(self, audit: AuditRecord, **fields: object) -> Notification:
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
