"""Missions in both schemas: what a member sees (``pointClub.missions``) and what an operator
creates (``createMission``) and lists (``missions``)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.domain import missions as domain
from core.domain.missions import GoalKind
from core.queries.views import MissionPageView, MissionView
from schema.admin import UserError
from schema.public import PageInfo

strawberry.enum(
    GoalKind,
    name="MissionGoalKind",
    description=(
        "USE_POINTS: points used (USED ledger entries, as `points import` brings them) in the "
        "period; refunds do not lower progress. READ_NOTIFICATIONS: notifications read in the "
        "period (each counted once per member, as its read count; a mark-all counts what it "
        "read). EVENT: events the platform reports with `pointclub missions record` under the "
        "goal's `event` name, dated in the period, each event id once."
    ),
)


@strawberry.type(description="What completes a mission.")
class MissionGoal:
    kind: GoalKind = strawberry.field(description="What counts toward the target.")
    target: int = strawberry.field(
        description="Points to use (USE_POINTS), notifications to read, or events to report."
    )
    event: str | None = strawberry.field(description="EVENT only: the event's name.")


@strawberry.type(description="A mission running now, in the viewer's locale, with their progress.")
class Mission:
    id: strawberry.ID = strawberry.field(description="The mission's id (as operators see it).")
    title: str = strawberry.field(description="In the viewer's locale (else Japanese).")
    body: str = strawberry.field(description="What to do, in the viewer's locale.")
    goal: MissionGoal = strawberry.field(description="What completes it.")
    progress: int = strawberry.field(
        description="Toward `goal.target`, at most the target: what the jobs brought while the "
        "mission was listed, dated in its period (reads: when counted, right after the read)."
    )
    reward: int = strawberry.field(
        description="Free points granted once on completion, into `balance` and `history`."
    )
    reward_valid_days: int = strawberry.field(description="How long the reward's points last.")
    starts_at: datetime = strawberry.field(description="The period starts (inclusive).")
    ends_at: datetime = strawberry.field(description="The period ends (exclusive).")
    completed_at: datetime | None = strawberry.field(
        description="When the reward was granted; null until then."
    )

    @classmethod
    def from_view(cls, view: MissionView) -> Mission:
        return cls(
            id=strawberry.ID(view.id),
            title=view.title,
            body=view.body,
            goal=MissionGoal(kind=view.goal_kind, target=view.target, event=view.event),
            progress=view.progress,
            reward=view.reward,
            reward_valid_days=view.reward_valid_days,
            starts_at=view.starts_at,
            ends_at=view.ends_at,
            completed_at=view.completed_at,
        )


@strawberry.type
class MissionEdge:
    cursor: str = strawberry.field(description="Pass as `after` for the missions after this.")
    node: Mission


@strawberry.type
class MissionConnection:
    edges: list[MissionEdge] = strawberry.field(description="Soonest end first.")
    page_info: PageInfo

    @classmethod
    def from_view(cls, view: MissionPageView) -> MissionConnection:
        return cls(
            edges=[MissionEdge(cursor=m.cursor, node=Mission.from_view(m)) for m in view.missions],
            page_info=PageInfo(has_next_page=view.has_next_page, end_cursor=view.end_cursor),
        )


@strawberry.type(name="MissionContent", description="A mission's text in one locale.")
class MissionContent:
    locale: str = strawberry.field(description="A locale tag such as ja or en-US.")
    title: str
    body: str


@strawberry.type(name="AdminMission", description="A mission as created, in every locale.")
class AdminMission:
    id: strawberry.ID
    contents: list[MissionContent] = strawberry.field(description="Every locale, sorted.")
    goal: MissionGoal
    starts_at: datetime = strawberry.field(description="The period starts (inclusive).")
    ends_at: datetime = strawberry.field(
        description="The period ends (exclusive); listed two days more for late exports."
    )
    reward: int = strawberry.field(description="Free points granted once per member.")
    reward_valid_days: int = strawberry.field(description="How long the reward's points last.")
    created_at: datetime
    created_by: str = strawberry.field(description="The operator who created it.")

    @classmethod
    def from_value(cls, mission: domain.Mission) -> AdminMission:
        goal = mission.goal
        return cls(
            id=strawberry.ID(mission.mission_id),
            contents=[
                MissionContent(locale=locale, title=c.title, body=c.body)
                for locale, c in sorted(mission.contents.items())
            ],
            goal=MissionGoal(kind=goal.kind, target=goal.target, event=goal.event),
            starts_at=mission.starts_at,
            ends_at=mission.ends_at,
            reward=mission.reward,
            reward_valid_days=mission.reward_valid_days,
            created_at=mission.created_at,
            created_by=mission.created_by,
        )


@strawberry.input
class MissionContentInput:
    locale: str = strawberry.field(description="A locale tag such as ja or en-US, each once.")
    title: str = strawberry.field(description="At most 80 characters.")
    body: str = strawberry.field(description="At most 200 characters.")


@strawberry.input
class MissionGoalInput:
    kind: GoalKind = strawberry.field(description="What counts toward the target.")
    target: int = strawberry.field(
        description="USE_POINTS: 1..1,000,000,000 points; READ_NOTIFICATIONS, EVENT: 1..1,000."
    )
    event: str | None = strawberry.field(
        default=None, description="EVENT only: the name `missions record` lines carry."
    )


@strawberry.input
class MissionInput:
    contents: list[MissionContentInput] = strawberry.field(
        description="Title and body per locale; Japanese (ja) required, at most 3 locales."
    )
    goal: MissionGoalInput = strawberry.field(description="What completes it.")
    starts_at: datetime = strawberry.field(
        description="With an offset; may be past (entries and events dated since then count)."
    )
    ends_at: datetime = strawberry.field(
        description="After startsAt and in the future; a period of at most 366 days."
    )
    reward: int = strawberry.field(description="Free points granted on completion, 1..1,000,000.")
    reward_valid_days: int = strawberry.field(
        default=180, description="How long the reward's points last, 1..3650 days."
    )


@strawberry.type
class MissionPayload:
    mission: AdminMission | None = strawberry.field(description="Null when refused.")
    user_errors: list[UserError] = strawberry.field(
        description="Field by field; CONFLICT when 10 missions are listed already."
    )
