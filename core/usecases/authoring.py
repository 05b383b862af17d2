"""Operators' commands on notifications: create, update (amend), schedule, recall.

Every command is audited twice: a structured log line, and a record appended to the item.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from core.domain.inbox import check_notification_id
from core.domain.notification import (
    AudienceKind,
    AuditRecord,
    Notification,
    NotificationDraft,
    NotificationPatch,
    NotificationState,
    check_draft,
)
from core.domain.segment import Segment
from core.domain.time import iso_key
from core.errors import Conflict, FieldError, InvalidInput, NotFound, ValidationFailed
from core.observability.spans import traced
from core.ports import Clock, IdempotencyClaim, IdGenerator, NotificationReader

log = structlog.get_logger("pointclub.audit")

IDEMPOTENCY_WINDOW = timedelta(hours=24)
MAX_KEY = 128
MAX_REASON = 500
EDITABLE = {NotificationState.DRAFT, NotificationState.SCHEDULED}
AMENDABLE = {NotificationState.PREPARING, NotificationState.PUBLISHED}


class NotificationAuthoringStore(NotificationReader, Protocol):
    async def create(
        self, notification: Notification, claim: IdempotencyClaim | None
    ) -> Notification: ...

    async def save(
        self, notification: Notification, *, expected: NotificationState, audit: AuditRecord
    ) -> None: ...

    async def recall(
        self,
        notification: Notification,
        *,
        expected: NotificationState,
        audit: AuditRecord,
        shards: int,
    ) -> None: ...


class SegmentLookup(Protocol):
    async def get(self, name: str) -> Segment | None: ...


def fingerprint(draft: NotificationDraft) -> str:
    """A stable digest of what was asked, to tell a replay from a different request."""
    document = {
        "category": draft.category,
        "priority": draft.priority.value,
        "contents": {k: [v.title, v.body] for k, v in sorted(draft.contents.items())},
        "audience": [draft.audience.kind.value, draft.audience.user_id, draft.audience.segment],
        "url": draft.url,
        "imageUrl": draft.image_url,
        "visibleFrom": None if draft.visible_from is None else iso_key(draft.visible_from),
        "expiresAt": None if draft.expires_at is None else iso_key(draft.expires_at),
    }
    encoded = json.dumps(document, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


class NotificationAuthoring:
    def __init__(
        self,
        *,
        store: NotificationAuthoringStore,
        segments: SegmentLookup,
        clock: Clock,
        ids: IdGenerator,
        categories: set[str],
        recall_shards: int,
    ) -> None:
        self._store = store
        self._segments = segments
        self._clock = clock
        self._ids = ids
        self._categories = categories
        self._recall_shards = recall_shards

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
        audit = AuditRecord(now, actor, "create", _describe(draft))
        notification = Notification(
            notification_id=self._ids.new_id(),
            state=NotificationState.DRAFT,
            category=draft.category,
            priority=draft.priority,
            contents=dict(draft.contents),
            audience=draft.audience,
            created_at=now,
            created_by=actor,
            url=draft.url,
            image_url=draft.image_url,
            visible_from=draft.visible_from,
            expires_at=draft.expires_at,
            audit=(audit,),
        )
        stored = await self._store.create(notification, claim)
        replayed = stored.notification_id != notification.notification_id
        _log(audit, stored.notification_id, replayed=replayed)
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
                for name, old, new in _delivery_changes(current.draft, draft)
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
        changed = _changed_fields(current.draft, draft)
        audit = AuditRecord(
            now,
            actor,
            "amend" if current.state in AMENDABLE else "update",
            "changed: " + (", ".join(changed) or "nothing"),
        )
        updated = current.changed(
            audit,
            category=draft.category,
            priority=draft.priority,
            contents=dict(draft.contents),
            audience=draft.audience,
            url=draft.url,
            image_url=draft.image_url,
            visible_from=draft.visible_from if current.state in EDITABLE else current.visible_from,
            expires_at=draft.expires_at if current.state in EDITABLE else current.expires_at,
        )
        await self._store.save(updated, expected=current.state, audit=audit)
        _log(audit, notification_id)
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
        now = self._clock.now()
        audit = AuditRecord(now, actor, "schedule", f"visibleFrom {iso_key(visible_from)}")
        scheduled = current.changed(
            audit, state=NotificationState.SCHEDULED, visible_from=visible_from
        )
        await self._store.save(scheduled, expected=current.state, audit=audit)
        _log(audit, notification_id)
        return scheduled

    @traced
    async def recall(self, actor: str, notification_id: str, reason: str) -> Notification:
        if not reason.strip() or len(reason) > MAX_REASON:
            raise InvalidInput(f"give a reason of 1 to {MAX_REASON} characters", field="reason")
        current = await self._get(notification_id)
        if current.state is NotificationState.RECALLED:
            raise Conflict("the notification is already recalled")
        audit = AuditRecord(self._clock.now(), actor, "recall", reason.strip())
        recalled = current.changed(audit, state=NotificationState.RECALLED)
        await self._store.recall(
            recalled, expected=current.state, audit=audit, shards=self._recall_shards
        )
        _log(audit, notification_id)
        return recalled

    async def _get(self, notification_id: str) -> Notification:
        check_notification_id(notification_id, "id")
        found = (await self._store.get_many([notification_id])).get(notification_id)
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


def _delivery_changes(
    old: NotificationDraft, new: NotificationDraft
) -> list[tuple[str, object, object]]:
    return [
        ("category", old.category, new.category),
        ("priority", old.priority, new.priority),
        ("audience", old.audience, new.audience),
        ("visibleFrom", old.visible_from, new.visible_from),
        ("expiresAt", old.expires_at, new.expires_at),
    ]


def _changed_fields(old: NotificationDraft, new: NotificationDraft) -> list[str]:
    pairs = [
        *_delivery_changes(old, new),
        ("contents", dict(old.contents), dict(new.contents)),
        ("url", old.url, new.url),
        ("imageUrl", old.image_url, new.image_url),
    ]
    return [name for name, before, after in pairs if before != after]


def _describe(draft: NotificationDraft) -> str:
    audience = (
        draft.audience.user_id
        if draft.audience.kind is AudienceKind.USER
        else draft.audience.segment
    )
    return (
        f"category {draft.category}, {draft.audience.kind.value.lower()} {audience}, "
        f"locales {','.join(sorted(draft.contents))}"
    )


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
