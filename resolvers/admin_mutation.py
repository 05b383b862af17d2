"""The admin schema's commands: author, schedule and recall notifications, create segments.
Every command is the caller's (the audit names them); expected refusals come back as
``userErrors``."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.admin_inputs import draft_of, expected, mission_draft_of, patch_of, rule_of
from resolvers.admin_query import Segment
from resolvers.context import Context
from resolvers.permissions import IsAdmin
from schema.admin import (
    Notification,
    NotificationInput,
    NotificationPayload,
    NotificationUpdateInput,
    SegmentInput,
    UserError,
)
from schema.missions import AdminMission, MissionInput, MissionPayload


@strawberry.type
class SegmentPayload:
    segment: Segment | None
    user_errors: list[UserError]


async def _payload(
    context: Context, notification_id: str | None, errors: list[UserError]
) -> NotificationPayload:
    if notification_id is None:
        return NotificationPayload(notification=None, user_errors=errors)
    view = await context.scope.admin_queries.notification(notification_id)
    return NotificationPayload(
        notification=None if view is None else Notification.from_view(view), user_errors=errors
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="A new DRAFT. The same idempotencyKey and input returns it again.",
        permission_classes=[IsAdmin],
    )
    async def create_notification(
        self,
        info: strawberry.Info[Context, None],
        input: NotificationInput,
        idempotency_key: str | None = None,
    ) -> NotificationPayload:
        context = info.context
        actor = context.admin().user_id
        created, errors = await expected(
            lambda: context.scope.authoring.create(actor, draft_of(input), idempotency_key)
        )
        return await _payload(context, created.notification_id if created else None, errors)

    @strawberry.mutation(
        description=(
            "A patch: a field left out is unchanged, null clears it where that is allowed. "
            "DRAFT/SCHEDULED: any field. PREPARING/PUBLISHED: content only (amend), shown to "
            "members at once."
        ),
        permission_classes=[IsAdmin],
    )
    async def update_notification(
        self,
        info: strawberry.Info[Context, None],
        id: strawberry.ID,
        input: NotificationUpdateInput,
    ) -> NotificationPayload:
        context = info.context
        actor = context.admin().user_id
        updated, errors = await expected(
            lambda: context.scope.authoring.update(actor, str(id), patch_of(input))
        )
        return await _payload(context, str(id) if updated else None, errors)

    @strawberry.mutation(
        description="DRAFT/SCHEDULED -> SCHEDULED at visibleFrom.", permission_classes=[IsAdmin]
    )
    async def schedule_notification(
        self, info: strawberry.Info[Context, None], id: strawberry.ID, visible_from: datetime
    ) -> NotificationPayload:
        context = info.context
        actor = context.admin().user_id
        done, errors = await expected(
            lambda: context.scope.authoring.schedule(actor, str(id), visible_from)
        )
        return await _payload(context, str(id) if done else None, errors)

    @strawberry.mutation(
        description="Gone from every inbox and count at once; entries are cleaned later.",
        permission_classes=[IsAdmin],
    )
    async def recall_notification(
        self, info: strawberry.Info[Context, None], id: strawberry.ID, reason: str
    ) -> NotificationPayload:
        context = info.context
        actor = context.admin().user_id
        done, errors = await expected(
            lambda: context.scope.authoring.recall(actor, str(id), reason)
        )
        return await _payload(context, str(id) if done else None, errors)

    @strawberry.mutation(
        description="A new mission for every member, shown in `pointClub.missions` from "
        "startsAt; at most 10 listed at once (CONFLICT beyond). The same idempotencyKey and "
        "input (within 24 hours) returns the first one; another input under it is CONFLICT.",
        permission_classes=[IsAdmin],
    )
    async def create_mission(
        self,
        info: strawberry.Info[Context, None],
        input: MissionInput,
        idempotency_key: str | None = None,
    ) -> MissionPayload:
        context = info.context
        actor = context.admin().user_id
        created, errors = await expected(
            lambda: context.scope.missions.create(actor, mission_draft_of(input), idempotency_key)
        )
        return MissionPayload(
            mission=None if created is None else AdminMission.from_value(created),
            user_errors=errors,
        )

    @strawberry.mutation(
        description="ALL_MEMBERS or RANKS; USER_LIST segments come from the CLI.",
        permission_classes=[IsAdmin],
    )
    async def create_segment(
        self, info: strawberry.Info[Context, None], input: SegmentInput
    ) -> SegmentPayload:
        context = info.context
        actor = context.admin().user_id
        created, errors = await expected(
            lambda: context.scope.segment_authoring.create(actor, input.name, rule_of(input.rule))
        )
        return SegmentPayload(
            segment=None if created is None else Segment.from_value(created), user_errors=errors
        )
