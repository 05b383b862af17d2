"""In-memory fakes of every port in ``core/ports.py``, sharing one ``World`` as the DynamoDB
adapters share one table, and ``fake_container``: the composition root's graph built on them
(cosmicpython's ``bootstrap_test_app``). ``tests/contract`` holds the fakes to the adapters."""

from __future__ import annotations

from core.auth import DevTokenIssuer, TokenVerifier
from core.bootstrap import Container
from core.domain.pointclub import RankTable
from core.infra.events import NoEvents
from core.ports import InboxEvents
from core.settings import Settings
from core.usecases.read_counting import ReadCounting
from tests.fakes.clock import FakeClock, SequentialIds
from tests.fakes.events import EVERYONE, RecordedEvents
from tests.fakes.fanout import FakeFanout
from tests.fakes.ledger import FakeLedger, FakeReadStats, FakeSystem
from tests.fakes.members import FakeMembers
from tests.fakes.notifications import FakeLiveList, FakeNotifications
from tests.fakes.segments import FakeSegments
from tests.fakes.world import World

__all__ = [
    "EVERYONE",
    "FakeClock",
    "FakeFanout",
    "FakeLedger",
    "FakeLiveList",
    "FakeMembers",
    "FakeNotifications",
    "FakeReadStats",
    "FakeSegments",
    "FakeSystem",
    "RecordedEvents",
    "SequentialIds",
    "World",
    "fake_container",
]


def fake_container(
    settings: Settings | None = None,
    *,
    clock: FakeClock | None = None,
    world: World | None = None,
    events: InboxEvents | None = None,
) -> Container:
    """Everything a process needs, in memory: usecases and queries run as in production."""
    settings = settings or Settings(table_name="in-memory")
    world = world or World()
    ranks = RankTable.from_file(settings.ranks_file)
    read_stats = FakeReadStats(world)
    return Container(
        settings=settings,
        clock=clock or FakeClock(),
        ids=SequentialIds(),
        ranks=ranks,
        members=FakeMembers(world),
        notifications=FakeNotifications(world),
        live=FakeLiveList(world, settings.recall_shards),
        system=FakeSystem(world),
        read_stats=read_stats,
        segments=FakeSegments(world, [rank.code for rank in ranks.ranks]),
        fanout=FakeFanout(world),
        ledger=FakeLedger(world),
        verifier=TokenVerifier(settings),
        issuer=DevTokenIssuer(settings),
        read_counting=ReadCounting(read_stats),
        events=events or NoEvents(),
    )
