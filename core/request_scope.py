"""Per-request wiring, beside the composition root: what one GraphQL request may use.

The read models run on the request's DataLoaders (they implement the read ports), so the loads of
one request batch together and every field of a response sees the same reads; the commands run on
the raw stores, since a write must read the state as it is now. The admin's objects are made only
when an admin field asks for them: a member's request builds none of them.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property

from core.bootstrap import Container
from core.errors import Unavailable
from core.ports import LiveListReader, MemberReader, NotificationReader
from core.queries.admin import AdminQueries
from core.queries.inbox import InboxQueries
from core.queries.pointclub import PointClubQueries
from core.usecases.authoring import NotificationAuthoring
from core.usecases.missions import Missions
from core.usecases.read_state import ReadStateCommands
from core.usecases.segments import SegmentAuthoring


class RequestScope:
    """The usecases and queries of one request, each built on first use."""

    def __init__(
        self,
        container: Container,
        *,
        members: MemberReader,
        notifications: NotificationReader,
        live: LiveListReader,
    ) -> None:
        self._container = container
        self._members = members
        self._notifications = notifications
        self._live = live

    @property
    def admin_role(self) -> str:
        return self._container.settings.jwt_admin_role

    def now(self) -> datetime:
        return self._container.clock.now()

    @cached_property
    def inbox(self) -> InboxQueries:
        return self._container.inbox_queries(
            members=self._members, notifications=self._notifications, live=self._live
        )

    @cached_property
    def point_club(self) -> PointClubQueries:
        return self._container.point_club_queries(members=self._members, live=self._live)

    @cached_property
    def read_state(self) -> ReadStateCommands:
        return self._container.read_state_commands()

    def count_reads_later(self, user_id: str) -> None:
        """After a change of read state: the member's queued reads go into the statistics once
        the response is on its way (``ReadCounting``)."""
        self._container.read_counting.schedule(user_id)

    @cached_property
    def admin_queries(self) -> AdminQueries:
        return self._container.admin_queries()

    @cached_property
    def authoring(self) -> NotificationAuthoring:
        return self._container.authoring()

    @cached_property
    def segment_authoring(self) -> SegmentAuthoring:
        return self._container.segment_authoring()

    @property
    def missions(self) -> Missions:
        missions = self._container.missions
        if missions is None:
            raise Unavailable("missions need a DynamoDB table")
        return missions
