"""Operators' commands on notifications: create, update (amend), schedule, recall.

Every command is audited twice: a structured log line, and a record appended to the item.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from core.domain.events import ChangeKind, InboxChange
from core.domain.inbox import check_notification_id
from core.domain.notification import (
    AMENDABLE,
    EDITABLE,
    AudienceKind,
    AuditRecord,
    Notification,
    NotificationDraft,
    NotificationPatch,
    NotificationState,
    check_draft,
)
from core.domain.notification_draft import delivery_changes, fingerprint
from core.domain.time import iso_key
from core.errors import Conflict, FieldError, InvalidInput, NotFound, ValidationFailed
from core.observability.spans import traced
from core.ports import (
    Clock,
    IdempotencyClaim,
    IdGenerator,
    InboxEvents,
    NotificationStore,
    SegmentStore,
)

log = structlog.get_logger("pointclub.audit")

IDEMPOTENCY_WINDOW = timedelta(hours=24)
MAX_KEY = 128
MAX_REASON = 500


class NotificationAuthoring:
    def __init__(
        self,
        *,
        store: NotificationStore,
        segments: SegmentStore,
        clock: Clock,
        ids: IdGenerator,
        categories: set[str],
        events: InboxEvents,
    ) -> None:
        self._events = events
        self._store = store
        self._segments = segments
        self._clock = clock
        self._ids = ids
        self._categories = categories

    @traced
    async def create(
        self, actor: str, draft: NotificationDraft, idempotency_key: str | None = None
    ) -> Notification:
        now = self._clock.now()
        await self._check(draft, now)
        claim = None
        if idempotency_key is not None:
            if not 1 <= len(idempotency_key) <= MAX_KEY:
                raise InvalidInput(f"1 to {MAX_KEY} characters", field="idempotencyKey")
            claim = IdempotencyClaim(
                actor, idempotency_key, fingerprint(draft), now + IDEMPOTENCY_WINDOW
            )
        notification = Notification.authored(self._ids.new_id(), draft, now, actor)
        stored = await self._store.create(notification, claim)
        replayed = stored.notification_id != notification.notification_id
        _log(notification.last_audit, stored.notification_id, replayed=replayed)
        return stored

    @traced
    async def update(
        self, actor: str, notification_id: str, patch: NotificationPatch
    ) -> Notification:
        """Change what ``patch`` carries; a PREPARING or PUBLISHED one takes content only."""
        current = await self._get(notification_id)
        draft = patch.apply(current.draft)
        now = self._clock.now()
        if current.state is NotificationState.RECALLED:
            raise Conflict("a recalled notification cannot change")
        if current.state in AMENDABLE:
            frozen = [
                FieldError(name, "cannot change once published; only content can be amended")
                for name, old, new in delivery_changes(current.draft, draft)
                if old != new
            ]
            if frozen:
                raise ValidationFailed(frozen)
            errors = check_draft(draft, categories=self._categories, now=now)
            content_errors = [
                e for e in errors if e.field.startswith(("contents", "url", "imageUrl"))
            ]
            if content_errors:
                raise ValidationFailed(content_errors)
        else:
            await self._check(draft, now)
            if current.state is NotificationState.SCHEDULED and draft.visible_from is None:
                raise ValidationFailed(
                    [FieldError("visibleFrom", "a scheduled notification needs visibleFrom")]
                )
        updated = current.edit(draft, now, actor)
        await self._store.save(updated, expected=current.state, audit=updated.last_audit)
        _log(updated.last_audit, notification_id)
        if current.state in AMENDABLE:  # members may have it: their screens show the new text
            await self._events.to_everyone(InboxChange(ChangeKind.AMENDED, (notification_id,)))
        return updated

    @traced
    async def schedule(
        self, actor: str, notification_id: str, visible_from: datetime
    ) -> Notification:
        current = await self._get(notification_id)
        if current.state not in EDITABLE:
            raise Conflict(f"a {current.state.value} notification cannot be scheduled")
        if current.expires_at is not None and current.expires_at <= visible_from:
            raise ValidationFailed([FieldError("visibleFrom", "must be before expiresAt")])
        scheduled = current.schedule(visible_from, self._clock.now(), actor)
        await self._store.save(scheduled, expected=current.state, audit=scheduled.last_audit)
        _log(scheduled.last_audit, notification_id)
        return scheduled

    @traced
    async def recall(self, actor: str, notification_id: str, reason: str) -> Notification:
        if not reason.strip() or len(reason) > MAX_REASON:
            raise InvalidInput(f"give a reason of 1 to {MAX_REASON} characters", field="reason")
        current = await self._get(notification_id)
        if current.state is NotificationState.RECALLED:
            raise Conflict("the notification is already recalled")
        recalled = current.recall(reason.strip(), self._clock.now(), actor)
        await self._store.recall(recalled, expected=current.state, audit=recalled.last_audit)
        _log(recalled.last_audit, notification_id)
        if current.state in AMENDABLE:
            await self._events.to_everyone(InboxChange(ChangeKind.RECALLED, (notification_id,)))
        return recalled

    async def _get(self, notification_id: str) -> Notification:
        check_notification_id(notification_id, "id")
        found = await self._store.get(notification_id)
        if found is None:
            raise NotFound(f"no notification {notification_id}")
        return found

    async def _check(self, draft: NotificationDraft, now: datetime) -> None:
        errors = check_draft(draft, categories=self._categories, now=now)
        segment = draft.audience.segment
        wants_segment = draft.audience.kind is AudienceKind.SEGMENT and bool(segment)
        if wants_segment and await self._segments.get(str(segment)) is None:
            errors.append(FieldError("audience.segment", f"no segment named {segment}"))
        if errors:
            raise ValidationFailed(errors)


def _log(audit: AuditRecord, notification_id: str, **extra: object) -> None:
    log.info(
        "admin.audit",
        actor=audit.actor,
        action=audit.action,
        target=f"notification:{notification_id}",
        detail=audit.detail,
        at=iso_key(audit.at),
        **extra,
    )
