"""The admin schema's (`/admin/graphql`) plain data types and inputs: notifications with their
delivery figures and audit, segment rules, user errors.

The root types and the types whose fields do I/O (``Segment.size``) live beside their resolvers
in ``resolvers/admin_*.py``. Expected failures of mutations come back as ``userErrors`` with a
field and a code an admin UI can show; authentication failures are GraphQL errors.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.domain.notification import AudienceKind, AudienceRule, NotificationState, Priority
from core.domain.segment import SegmentKind
from core.queries.admin import NotificationPageView, NotificationView
from schema.public import PageInfo

strawberry.enum(NotificationState)
strawberry.enum(AudienceKind)
strawberry.enum(
    AudienceRule,
    description="Who a broadcast (a segment of every member or of ranks) reaches.",
)
strawberry.enum(SegmentKind)


@strawberry.type
class LocalizedContent:
    locale: str
    title: str
    body: str


@strawberry.type(description="Who receives a notification: one member, or a named segment.")
class Audience:
    kind: AudienceKind
    user_id: strawberry.ID | None
    segment: str | None
    rule: AudienceRule = strawberry.field(
        description="For a segment of every member or of ranks (a broadcast, stored once): "
        "MEMBERS_AT_VISIBLE_FROM reaches who held the ranks at visibleFrom, LIVE whoever "
        "holds them now. A user list is fanned out as imported."
    )


@strawberry.type
class DeliveryStats:
    targeted: int = strawberry.field(
        description="Members the fan-out reached, each once: delivered + failed. A broadcast: "
        "its audience's size when it was published."
    )
    delivered: int = strawberry.field(
        description="Inbox entries written; a broadcast (stored once): targeted, at once."
    )
    failed: int = strawberry.field(
        description="Members a delivery could not reach (their data refused it); the next "
        "`prepare-notification` of it retries them."
    )
    read: int = strawberry.field(description="Members who read it (counted once each).")
    read_rate: float = strawberry.field(description="read / delivered (0 before delivery).")


@strawberry.type
class AuditEntry:
    at: datetime
    actor: str
    action: str
    detail: str


@strawberry.type
class Notification:
    id: strawberry.ID
    state: NotificationState
    category: str
    priority: Priority
    contents: list[LocalizedContent]
    url: str | None
    image_url: str | None
    audience: Audience
    visible_from: datetime | None
    expires_at: datetime | None
    created_at: datetime
    created_by: str
    stats: DeliveryStats
    audit: list[AuditEntry] = strawberry.field(description="Every admin change, oldest first.")

    @classmethod
    def from_view(cls, view: NotificationView) -> Notification:
        n = view.notification
        return cls(
            id=strawberry.ID(n.notification_id),
            state=n.state,
            category=n.category,
            priority=n.priority,
            contents=[
                LocalizedContent(locale=locale, title=content.title, body=content.body)
                for locale, content in sorted(n.contents.items())
            ],
            url=n.url,
            image_url=n.image_url,
            audience=Audience(
                kind=n.audience.kind,
                user_id=None if n.audience.user_id is None else strawberry.ID(n.audience.user_id),
                segment=n.audience.segment,
                rule=n.audience.rule,
            ),
            visible_from=n.visible_from,
            expires_at=n.expires_at,
            created_at=n.created_at,
            created_by=n.created_by,
            stats=DeliveryStats(
                targeted=view.stats.targeted,
                delivered=view.stats.delivered,
                failed=view.stats.failed,
                read=view.stats.read,
                read_rate=view.stats.read_rate,
            ),
            audit=[
                AuditEntry(at=a.at, actor=a.actor, action=a.action, detail=a.detail)
                for a in n.audit
            ],
        )


@strawberry.type
class NotificationEdge:
    cursor: str
    node: Notification


@strawberry.type
class NotificationConnection:
    edges: list[NotificationEdge]
    page_info: PageInfo

    @classmethod
    def from_view(cls, view: NotificationPageView) -> NotificationConnection:
        return cls(
            edges=[
                NotificationEdge(cursor=v.cursor, node=Notification.from_view(v))
                for v in view.items
            ],
            page_info=PageInfo(has_next_page=view.has_next_page, end_cursor=view.end_cursor),
        )


@strawberry.type
class SegmentRule:
    kind: SegmentKind
    ranks: list[str] | None


@strawberry.type(description="An expected failure: show `message` next to `field`.")
class UserError:
    field: str | None
    message: str
    code: str = strawberry.field(description="BAD_USER_INPUT, NOT_FOUND or CONFLICT.")


@strawberry.type
class NotificationPayload:
    notification: Notification | None
    user_errors: list[UserError]


@strawberry.input
class LocalizedContentInput:
    locale: str
    title: str
    body: str


@strawberry.input
class AudienceInput:
    kind: AudienceKind
    user_id: strawberry.ID | None = None
    segment: str | None = None
    rule: AudienceRule = strawberry.field(
        default=AudienceRule.MEMBERS_AT_VISIBLE_FROM,
        description="A broadcast's audience: the members at visibleFrom (campaigns), or LIVE.",
    )


@strawberry.input(
    description="`contents` needs `ja`; title up to 120, body up to 4,000 characters."
)
class NotificationInput:
    category: str
    contents: list[LocalizedContentInput]
    audience: AudienceInput
    priority: Priority | None = Priority.NORMAL
    url: str | None = None
    image_url: str | None = None
    visible_from: datetime | None = None
    expires_at: datetime | None = None


@strawberry.input(
    description=(
        "What to change: a field left out keeps its value; null clears url, imageUrl, "
        "visibleFrom or expiresAt (the others cannot be cleared)."
    )
)
class NotificationUpdateInput:
    category: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="A configured category. DRAFT/SCHEDULED only.",
    )
    contents: list[LocalizedContentInput] | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Replaces every locale's content; needs `ja`; title up to 120, body up to 4,000 "
            "characters. Any state but RECALLED."
        ),
    )
    audience: AudienceInput | None = strawberry.field(
        default=strawberry.UNSET, description="DRAFT/SCHEDULED only."
    )
    priority: Priority | None = strawberry.field(
        default=strawberry.UNSET, description="DRAFT/SCHEDULED only."
    )
    url: str | None = strawberry.field(
        default=strawberry.UNSET, description="https only; null clears. Any state but RECALLED."
    )
    image_url: str | None = strawberry.field(
        default=strawberry.UNSET, description="https only; null clears. Any state but RECALLED."
    )
    visible_from: datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description="DRAFT/SCHEDULED only; null clears (a SCHEDULED one needs it).",
    )
    expires_at: datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description="After visibleFrom and in the future; null clears. DRAFT/SCHEDULED only.",
    )


@strawberry.input
class SegmentRuleInput:
    kind: SegmentKind
    ranks: list[str] | None = None


@strawberry.input
class SegmentInput:
    name: str
    rule: SegmentRuleInput
