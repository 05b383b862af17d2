"""The admin schema's reads: notifications with their figures, segments, a member's status."""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.domain.notification import NotificationState
from core.domain.segment import Segment as SegmentValue
from core.queries.cursors import DEFAULT_PAGE
from resolvers.admin_inputs import rule_of
from resolvers.context import Context
from resolvers.permissions import IsAdmin
from resolvers.viewer import PointClubStatus, point_club_of
from schema.admin import Notification, NotificationConnection, SegmentRule, SegmentRuleInput
from schema.missions import AdminMission


@strawberry.type
class Segment:
    name: str
    rule: SegmentRule
    created_at: datetime
    created_by: str
    value: strawberry.Private[SegmentValue]

    @strawberry.field(description="Members it resolves to now.")
    async def size(self, info: strawberry.Info[Context, None]) -> int | None:
        return await info.context.scope.admin_queries.size_of(self.value)

    @classmethod
    def from_value(cls, value: SegmentValue) -> Segment:
        return cls(
            name=value.name,
            rule=SegmentRule(kind=value.rule.kind, ranks=list(value.rule.ranks) or None),
            created_at=value.created_at,
            created_by=value.created_by,
            value=value,
        )


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsAdmin])
    async def notification(
        self, info: strawberry.Info[Context, None], id: strawberry.ID
    ) -> Notification | None:
        view = await info.context.scope.admin_queries.notification(str(id))
        return None if view is None else Notification.from_view(view)

    @strawberry.field(
        description="Newest created first; `first` is 1..100.", permission_classes=[IsAdmin]
    )
    async def notifications(
        self,
        info: strawberry.Info[Context, None],
        first: int | None = 20,
        after: str | None = None,
        state: NotificationState | None = None,
    ) -> NotificationConnection:
        view = await info.context.scope.admin_queries.notifications(
            first=DEFAULT_PAGE if first is None else first, after=after, state=state
        )
        return NotificationConnection.from_view(view)

    @strawberry.field(permission_classes=[IsAdmin])
    async def segments(self, info: strawberry.Info[Context, None]) -> list[Segment]:
        return [Segment.from_value(s) for s in await info.context.scope.admin_queries.segments()]

    @strawberry.field(
        description="Missions running or upcoming (not ended), soonest end first.",
        permission_classes=[IsAdmin],
    )
    async def missions(self, info: strawberry.Info[Context, None]) -> list[AdminMission]:
        now = info.context.now
        listed = await info.context.scope.missions.listed()
        return [AdminMission.from_value(m) for m in listed if m.ends_at > now]

    @strawberry.field(
        description="How many members a rule selects now: a preview before sending.",
        permission_classes=[IsAdmin],
    )
    async def segment_size(
        self, info: strawberry.Info[Context, None], rule: SegmentRuleInput
    ) -> int:
        return await info.context.scope.admin_queries.segment_size(rule_of(rule))

    @strawberry.field(description="A member's point-club status.", permission_classes=[IsAdmin])
    async def member(
        self, info: strawberry.Info[Context, None], user_id: strawberry.ID
    ) -> PointClubStatus | None:
        return await point_club_of(info.context, str(user_id))
