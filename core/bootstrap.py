"""The one composition root: builds every real dependency once and hands it out. The Starlette
app (in its lifespan), each CLI command (inside its ``asyncio.run``) and the tests all go through
``open_container``; nothing here runs at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from core.auth import DevTokenIssuer, TokenVerifier
from core.domain.pointclub import RankTable
from core.endpoints import dynamo_config, open_events
from core.infra.clock import SystemClock, UlidGenerator
from core.infra.content_cache import ContentCache
from core.infra.dynamodb.client import open_client
from core.infra.dynamodb.fanout import DynamoFanoutStore
from core.infra.dynamodb.ledger import DynamoLedgerStore
from core.infra.dynamodb.live_list import DynamoLiveList
from core.infra.dynamodb.members import DynamoMemberStore
from core.infra.dynamodb.missions import DynamoMissionStore
from core.infra.dynamodb.notifications import DynamoNotificationStore
from core.infra.dynamodb.read_stats import DynamoReadStats
from core.infra.dynamodb.segments import DynamoSegmentStore
from core.infra.dynamodb.system import DynamoSystemStore
from core.infra.events import NoEvents
from core.ports import (
    Clock,
    FanoutStore,
    IdGenerator,
    InboxEvents,
    InboxStore,
    LedgerStore,
    LiveListReader,
    LiveListStore,
    MemberReader,
    MissionStore,
    NotificationReader,
    NotificationStore,
    ReadStats,
    SegmentStore,
    SystemStore,
)
from core.queries.admin import AdminQueries
from core.queries.inbox import InboxQueries
from core.queries.pointclub import PointClubQueries
from core.settings import Settings
from core.usecases.authoring import NotificationAuthoring
from core.usecases.cleanup_recalled import CleanupRecalled
from core.usecases.evaluate_ranks import EvaluateRanks
from core.usecases.ledger_import import ImportLedger
from core.usecases.missions import Missions
from core.usecases.notices import NoticeSender
from core.usecases.notify_expiring import NotifyExpiring
from core.usecases.prepare_due import PrepareDue
from core.usecases.prepare_notification import PrepareNotification
from core.usecases.publish_broadcast import PublishBroadcast
from core.usecases.read_counting import ReadCounting
from core.usecases.read_state import ReadStateCommands
from core.usecases.recount_ranks import RecountRanks
from core.usecases.seed_demo import SeedDemo, SeedReport
from core.usecases.segments import ImportUserList, SegmentAuthoring

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient


@dataclass(frozen=True)
class Container:
    """Everything a process needs, built once."""

    settings: Settings
    clock: Clock
    ids: IdGenerator
    ranks: RankTable
    members: InboxStore
    notifications: NotificationStore
    live: LiveListStore
    system: SystemStore
    read_stats: ReadStats
    segments: SegmentStore
    fanout: FanoutStore
    ledger: LedgerStore
    verifier: TokenVerifier
    issuer: DevTokenIssuer
    read_counting: ReadCounting
    # Live inbox events: published after each change (NoEvents when there is no broker).
    events: InboxEvents = field(default_factory=NoEvents)
    mission_store: MissionStore | None = None  # None: in memory (no missions)
    # The open DynamoDB client for tools that look at the table (tests, bench; None in memory).
    client: DynamoDBClient | None = None

    def inbox_queries(
        self,
        *,
        members: MemberReader | None = None,
        notifications: NotificationReader | None = None,
        live: LiveListReader | None = None,
    ) -> InboxQueries:
        """On the raw stores, or on a request's DataLoaders (which implement the same ports)."""
        return InboxQueries(
            members=members or self.members,
            notifications=notifications or self.notifications,
            live=live or self.live,
            default_locale=self.settings.default_locale,
            categories=self.settings.categories,
        )

    def point_club_queries(
        self, *, members: MemberReader | None = None, live: LiveListReader | None = None
    ) -> PointClubQueries:
        return PointClubQueries(
            members=members or self.members,
            live=live or self.live,
            ranks=self.ranks,
            default_locale=self.settings.default_locale,
        )

    def authoring(self) -> NotificationAuthoring:
        return NotificationAuthoring(
            store=self.notifications,
            segments=self.segments,
            clock=self.clock,
            ids=self.ids,
            categories=set(self.settings.categories),
            events=self.events,
        )

    def segment_authoring(self) -> SegmentAuthoring:
        return SegmentAuthoring(
            store=self.segments, clock=self.clock, rank_codes={r.code for r in self.ranks.ranks}
        )

    def admin_queries(self) -> AdminQueries:
        return AdminQueries(
            notifications=self.notifications,
            segments=self.segments,
            stats=self.read_stats,
            totals=self.fanout,
            rank_codes={r.code for r in self.ranks.ranks},
        )

    def prepare_notification(self, concurrency: int = 16) -> PrepareNotification:
        return PrepareNotification(
            notifications=self.notifications,
            audience=self.segments,
            fanout=self.fanout,
            publish=self.publish_broadcast(),
            clock=self.clock,
            events=self.events,
            concurrency=concurrency,
        )

    def recount_ranks(self) -> RecountRanks:
        return RecountRanks(segments=self.segments, ledger=self.ledger)

    def publish_broadcast(self) -> PublishBroadcast:
        return PublishBroadcast(
            notifications=self.notifications,
            members=self.ledger,
            live=self.live,
            clock=self.clock,
            max_live=self.settings.max_live_broadcasts,
            rank_codes=[rank.code for rank in self.ranks.ranks],
            events=self.events,
        )

    def prepare_due(self) -> PrepareDue:
        return PrepareDue(
            queue=self.notifications,
            prepare=self.prepare_notification(),
            clock=self.clock,
            live=self.live,
            events=self.events,
            broadcast_lead=timedelta(seconds=self.settings.broadcast_lead_seconds),
        )

    def cleanup_recalled(self) -> CleanupRecalled:
        return CleanupRecalled(
            notifications=self.notifications, fanout=self.fanout, live=self.live, clock=self.clock
        )

    def import_user_list(self) -> ImportUserList:
        return ImportUserList(store=self.segments, clock=self.clock)

    def import_ledger(self) -> ImportLedger:
        return ImportLedger(
            store=self.ledger,
            ranks=self.ranks,
            clock=self.clock,
            order=self.settings.point_use_order,
            missions=self.missions,
        )

    @cached_property
    def missions(self) -> Missions | None:
        if self.mission_store is None:
            return None
        return Missions(
            store=self.mission_store,
            ledger=self.ledger,
            ranks=self.ranks,
            notices=self.notice_sender(),
            clock=self.clock,
            ids=self.ids,
        )

    def notice_sender(self) -> NoticeSender:
        return NoticeSender(store=self.notifications, prepare=self.prepare_notification())

    def evaluate_ranks(self) -> EvaluateRanks:
        return EvaluateRanks(
            members=self.segments,
            store=self.ledger,
            ranks=self.ranks,
            notices=self.notice_sender(),
            clock=self.clock,
        )

    def notify_expiring(self) -> NotifyExpiring:
        return NotifyExpiring(
            members=self.segments, store=self.ledger, notices=self.notice_sender(), clock=self.clock
        )

    def read_state_commands(self) -> ReadStateCommands:
        """Commands on the raw stores: a write must read the state as it is now."""
        return ReadStateCommands(
            members=self.members,
            notifications=self.notifications,
            live=self.live,
            writer=self.members,
            clock=self.clock,
            categories=self.settings.categories,
            events=self.events,
        )

    async def seed_demo(self) -> SeedReport:
        return await SeedDemo(
            registry=self.system,
            notifications=self.notifications,
            inbox=self.members,
            club=self.ledger,
            now=self.clock.now(),
            missions=self.mission_store,
        ).run()


@asynccontextmanager
async def open_container(
    settings: Settings,
    *,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
) -> AsyncIterator[Container]:
    """Open the process-wide DynamoDB client and event publisher and build the graph."""
    async with open_client(dynamo_config(settings)) as client, open_events(settings) as events:
        yield build_container(settings, client, clock=clock, ids=ids, events=events)


def build_container(
    settings: Settings,
    client: DynamoDBClient,
    *,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    events: InboxEvents | None = None,
) -> Container:
    """The graph around an open client (tests share one client across many tables)."""
    table, shards = settings.table_name, settings.recall_shards
    clock = clock or SystemClock()
    ranks = RankTable.from_file(settings.ranks_file)
    read_stats = DynamoReadStats(client, table, now=clock.now)
    cache = ContentCache(seconds=settings.content_cache_seconds, limit=settings.content_cache_items)
    container = Container(
        settings=settings,
        clock=clock,
        ids=ids or UlidGenerator(),
        ranks=ranks,
        members=DynamoMemberStore(client, table),
        notifications=DynamoNotificationStore(client, table, shards=shards, cache=cache),
        live=DynamoLiveList(client, table, shards),
        system=DynamoSystemStore(client, table),
        read_stats=read_stats,
        segments=DynamoSegmentStore(client, table, [rank.code for rank in ranks.ranks]),
        fanout=DynamoFanoutStore(client, table),
        ledger=DynamoLedgerStore(client, table),
        verifier=TokenVerifier(settings),
        issuer=DevTokenIssuer(settings),
        read_counting=ReadCounting(read_stats),
        client=client,
        events=events or NoEvents(),
        mission_store=DynamoMissionStore(client, table, shards),
    )
    container.read_counting.use_missions(container.missions)
    return container
