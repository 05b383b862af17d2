"""Random sequences of deliveries, reads, mark-alls, archives, time passing and recalls, checked
after every step against a simple model: every count equals the number of visible unread items.
The second machine does it for several members at once, through the real fan-out (overlapping
runs, deliveries by hand, ranks changing after delivery, recall clean-up, racing archives).

Runs on the session's DynamoDB engine (DynamoDB Local in CI) with its own event loop and client,
because hypothesis drives state machines synchronously.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from core.bootstrap import Container, build_container
from core.domain.notification import Audience, AudienceKind, Notification, NotificationState
from core.domain.pointclub import ClubRecord
from core.domain.segment import SegmentKind, SegmentRule
from core.errors import Conflict
from core.infra.dynamodb.client import DynamoConfig, open_client
from core.infra.dynamodb.table import delete_table
from core.queries.inbox import InboxFilterSpec
from core.settings import Settings
from tests.builders import draft, entry_for, notification
from tests.engines import Engine
from tests.fakes import FakeClock, SequentialIds
from tests.integration.test_read_state_races import AfterReading, commands_with

pytestmark = pytest.mark.integration

T = TypeVar("T")
CATEGORIES = ("news", "campaign", "point")


@dataclass
class Item:
    category: str
    visible_from: datetime
    expires_at: datetime | None
    read: bool = False
    archived: bool = False
    recalled: bool = False

    def visible(self, now: datetime) -> bool:
        alive = self.expires_at is None or now < self.expires_at
        return self.visible_from <= now and alive and not self.recalled and not self.archived


class Runtime:
    """An event loop with one client and one table, shared by every example of the run."""

    def __init__(self, engine: Engine) -> None:
        self.loop = asyncio.new_event_loop()
        self.settings = Settings(
            table_name=f"model-{uuid.uuid4().hex[:10]}",
            dynamodb_endpoint=engine.url,
            recall_shards=2,
        )
        config = DynamoConfig(engine.url, "ap-northeast-1", "", static_credentials=True)
        self._client_context = open_client(config)
        self.client = self.run(self._client_context.__aenter__())
        self.clock = FakeClock()
        self.container = build_container(
            self.settings, self.client, clock=self.clock, ids=SequentialIds()
        )
        self.run(self.container.create_table())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.run(self._client_context.__aexit__(None, None, None))
        self.loop.close()


RUNTIME: Runtime | None = None


class InboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        assert RUNTIME is not None
        self.rt = RUNTIME
        self.c: Container = RUNTIME.container
        self.user = f"m{uuid.uuid4().hex[:10]}"
        self.model: dict[str, Item] = {}
        self.commands = self.c.read_state_commands()
        self.queries = self.c.inbox_queries()
        self.last: Any = None

    @property
    def now(self) -> datetime:
        return self.rt.clock.now()

    def ids(self) -> st.SearchStrategy[str]:
        return st.sampled_from(sorted(self.model) or ["none"])

    @rule(
        category=st.sampled_from(CATEGORIES),
        offset=st.integers(-120, 60),
        lifetime=st.one_of(st.none(), st.integers(1, 240)),
    )
    def deliver(self, category: str, offset: int, lifetime: int | None) -> None:
        nid = f"{self.user}-{len(self.model):03d}"
        visible_from = self.now + timedelta(minutes=offset)
        life = None if lifetime is None else timedelta(minutes=lifetime)
        item = notification(nid, visible_from=visible_from, category=category, lifetime=life)
        self.rt.run(self.c.notifications.put(item))
        self.rt.run(self.c.members.deliver(self.user, entry_for(item, self.now)))
        self.model[nid] = Item(category, visible_from, item.expires_at)

    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        ids = [*data.draw(st.lists(self.ids(), max_size=4)), "unknown-id"]
        self.last = ("read", ids)
        self._read(ids)

    def _read(self, ids: list[str]) -> None:
        self.rt.run(self.commands.mark_read(self.user, ids))
        for nid in ids:
            if nid in self.model and self.model[nid].visible(self.now):
                self.model[nid].read = True

    @rule(data=st.data())
    def unread(self, data: st.DataObject) -> None:
        nid = data.draw(self.ids())
        self.last = ("unread", nid)
        self._unread(nid)

    def _unread(self, nid: str) -> None:
        self.rt.run(self.commands.mark_unread(self.user, nid))
        if nid in self.model and self.model[nid].visible(self.now):
            self.model[nid].read = False

    @rule(categories=st.one_of(st.none(), st.sets(st.sampled_from(CATEGORIES), max_size=2)))
    def mark_all(self, categories: set[str] | None) -> None:
        chosen = None if categories is None else sorted(categories)
        self.last = ("mark_all", chosen)
        self._mark_all(chosen)

    def _mark_all(self, categories: list[str] | None) -> None:
        self.rt.run(self.commands.mark_all_read(self.user, categories))
        for item in self.model.values():
            if item.visible_from <= self.now and (
                categories is None or item.category in categories
            ):
                item.read = True

    @rule(data=st.data())
    def archive(self, data: st.DataObject) -> None:
        ids = data.draw(st.lists(self.ids(), max_size=3))
        self.last = ("archive", ids)
        self._archive(ids)

    def _archive(self, ids: list[str]) -> None:
        self.rt.run(self.commands.archive(self.user, ids))
        for nid in ids:
            if nid in self.model and self.model[nid].visible(self.now):
                self.model[nid].archived = True
                self.model[nid].read = True

    @rule()
    def retry_last(self) -> None:
        """A client retries its last mutation: nothing changes a second time."""
        if self.last is None:
            return
        kind, argument = self.last
        retries: dict[str, Callable[[Any], None]] = {
            "read": self._read,
            "unread": self._unread,
            "mark_all": self._mark_all,
            "archive": self._archive,
        }
        retries[kind](argument)

    @rule(minutes=st.integers(1, 90))
    def advance(self, minutes: int) -> None:
        self.rt.clock.advance(timedelta(minutes=minutes))

    @rule(data=st.data())
    def recall(self, data: st.DataObject) -> None:
        nid = data.draw(self.ids())
        if nid not in self.model:
            return
        stored = self.rt.run(self.c.notifications.get_many([nid]))[nid]
        self.rt.run(self.c.notifications.put(replace(stored, state=NotificationState.RECALLED)))
        self.rt.run(self.c.live.add(nid))
        self.model[nid].recalled = True

    @invariant()
    def counts_match_the_model(self) -> None:
        now = self.now
        visible = {nid: item for nid, item in self.model.items() if item.visible(now)}
        expected_unread = {nid for nid, item in visible.items() if not item.read}
        assert self.rt.run(self.queries.unread_count(self.user, None, now)) == len(expected_unread)
        for category in CATEGORIES:
            wanted = {nid for nid in expected_unread if self.model[nid].category == category}
            got = self.rt.run(self.queries.unread_count(self.user, [category], now))
            assert got == len(wanted), category
        page = self.rt.run(
            self.queries.page(
                self.user, first=100, after=None, spec=InboxFilterSpec(), locales=(), now=now
            )
        )
        assert {item.id for item in page.items} == set(visible)
        assert {item.id for item in page.items if not item.is_read} == expected_unread
        assert page.unread_count == len(expected_unread)
        unread_page = self.rt.run(
            self.queries.page(
                self.user,
                first=100,
                after=None,
                spec=InboxFilterSpec(unread_only=True),
                locales=(),
                now=now,
            )
        )
        assert {item.id for item in unread_page.items} == expected_unread


def test_every_count_matches_the_model(engine: Engine) -> None:
    global RUNTIME
    RUNTIME = Runtime(engine)
    try:
        machine = settings(
            max_examples=12,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )(InboxMachine)
        machine.TestCase().runTest()
    finally:
        RUNTIME.close()
        RUNTIME = None


RANK_SEGMENTS = {"gold": "GOLD", "silver": "SILVER"}


class AudienceMachine(RuleBasedStateMachine):
    """Several members, broadcasts to rank segments through the real fan-out (sometimes two
    runs at once), deliveries by hand (``--user``), ranks that change after delivery, recalls
    and their clean-up, and an archive racing a mark-unread: after every step, for every member,
    ``unreadCount`` = the listed items with ``isRead: false`` = the model's count."""

    MEMBERS = ("ma", "mb", "mc", "md")

    def __init__(self) -> None:
        super().__init__()
        assert RUNTIME is not None
        self.rt = RUNTIME
        self.rt.clock.current = FakeClock().current  # each example from the same instant
        base = RUNTIME.settings
        self.settings = base.model_copy(update={"table_name": f"audience-{uuid.uuid4().hex[:10]}"})
        self.c = build_container(
            self.settings, RUNTIME.client, clock=RUNTIME.clock, ids=SequentialIds("n")
        )
        self.rt.run(self.c.create_table())
        self.rank = {
            member: "GOLD" if index % 2 else "SILVER" for index, member in enumerate(self.MEMBERS)
        }
        for member, rank in self.rank.items():
            self.rt.run(
                self.c.ledger.put_club(member, ClubRecord(rank_code=rank, rank_month="2026-11"))
            )
        for name, rank in RANK_SEGMENTS.items():
            self.rt.run(
                self.c.segment_authoring().create(
                    "op", name, SegmentRule(SegmentKind.RANKS, (rank,))
                )
            )
        self.model: dict[str, dict[str, Item]] = {member: {} for member in self.MEMBERS}
        self.sent: dict[str, Notification] = {}
        self.commands = self.c.read_state_commands()
        self.queries = self.c.inbox_queries()

    def teardown(self) -> None:
        self.rt.run(delete_table(self.rt.client, self.settings.table_name))

    @property
    def now(self) -> datetime:
        return self.rt.clock.now()

    def sent_ids(self) -> st.SearchStrategy[str]:
        return st.sampled_from(sorted(self.sent) or ["none"])

    def member_ids(self, member: str) -> st.SearchStrategy[str]:
        return st.sampled_from(sorted(self.model[member]) or ["none"])

    @rule(
        segment=st.sampled_from(sorted(RANK_SEGMENTS)),
        category=st.sampled_from(CATEGORIES),
        offset=st.one_of(st.just(0), st.integers(1, 60)),  # visible at once, or later
        lifetime=st.one_of(st.none(), st.integers(1, 240)),
        runs=st.integers(1, 2),
    )
    def broadcast(
        self, segment: str, category: str, offset: int, lifetime: int | None, runs: int
    ) -> None:
        visible_from = self.now + timedelta(minutes=offset)
        expires = None if lifetime is None else visible_from + timedelta(minutes=lifetime)
        request = replace(
            draft(Audience(AudienceKind.SEGMENT, segment=segment), self.now),
            category=category,
            visible_from=visible_from,
            expires_at=expires,
        )
        created = self.rt.run(self.c.authoring().create("op", request))
        nid = created.notification_id

        async def fan_out() -> None:
            runners = [self.c.prepare_notification(concurrency=4) for _ in range(runs)]
            await asyncio.gather(*(runner.run(nid) for runner in runners))

        self.rt.run(fan_out())
        self.sent[nid] = self.rt.run(self.c.notifications.get_many([nid]))[nid]
        for member, rank in self.rank.items():
            if rank == RANK_SEGMENTS[segment]:
                self.model[member][nid] = Item(category, visible_from, expires)

    @rule(member=st.sampled_from(MEMBERS), data=st.data())
    def deliver_by_hand(self, member: str, data: st.DataObject) -> None:
        nid = data.draw(self.sent_ids())
        if nid not in self.sent:
            return
        try:
            self.rt.run(self.c.prepare_notification().run(nid, only_user=member))
        except Conflict:
            assert self.sent[nid].state is NotificationState.RECALLED
            return
        sent = self.sent[nid]
        assert sent.visible_from is not None
        self.model[member].setdefault(nid, Item(sent.category, sent.visible_from, sent.expires_at))

    @rule(member=st.sampled_from(MEMBERS), rank=st.sampled_from(["GOLD", "SILVER", "REGULAR"]))
    def change_rank(self, member: str, rank: str) -> None:
        self.rt.run(
            self.c.ledger.put_club(member, ClubRecord(rank_code=rank, rank_month="2026-12"))
        )
        self.rank[member] = rank

    @rule(data=st.data(), clean_up=st.booleans())
    def recall(self, data: st.DataObject, clean_up: bool) -> None:
        nid = data.draw(self.sent_ids())
        if nid not in self.sent or self.sent[nid].state is NotificationState.RECALLED:
            return
        self.rt.run(self.c.authoring().recall("op", nid, "model"))
        self.sent[nid] = self.rt.run(self.c.notifications.get_many([nid]))[nid]
        for items in self.model.values():
            if nid in items:
                items[nid].recalled = True
        if clean_up:
            self.recall_cleanup()

    @rule()
    def recall_cleanup(self) -> None:
        cleanup = self.c.cleanup_recalled()
        for nid in self.rt.run(cleanup.pending()):
            self.rt.run(cleanup.run(nid))

    @rule(member=st.sampled_from(MEMBERS), data=st.data())
    def read(self, member: str, data: st.DataObject) -> None:
        ids = data.draw(st.lists(self.member_ids(member), max_size=3))
        self.rt.run(self.commands.mark_read(member, [i for i in ids if i != "none"]))
        for nid in ids:
            item = self.model[member].get(nid)
            if item is not None and item.visible(self.now):
                item.read = True

    @rule(member=st.sampled_from(MEMBERS), data=st.data())
    def unread(self, member: str, data: st.DataObject) -> None:
        nid = data.draw(self.member_ids(member))
        self.rt.run(self.commands.mark_unread(member, nid))
        item = self.model[member].get(nid)
        if item is not None and item.visible(self.now):
            item.read = False

    @rule(
        member=st.sampled_from(MEMBERS),
        categories=st.one_of(st.none(), st.sets(st.sampled_from(CATEGORIES), max_size=2)),
    )
    def mark_all(self, member: str, categories: set[str] | None) -> None:
        chosen = None if categories is None else sorted(categories)
        self.rt.run(self.commands.mark_all_read(member, chosen))
        for item in self.model[member].values():
            if item.visible_from <= self.now and (chosen is None or item.category in chosen):
                item.read = True

    @rule(member=st.sampled_from(MEMBERS), data=st.data())
    def archive_racing_unread(self, member: str, data: st.DataObject) -> None:
        """An archive whose reads are done when a mark-unread of the same item commits."""
        nid = data.draw(self.member_ids(member))
        plain = self.commands
        racing = AfterReading(self.c.members, lambda: plain.mark_unread(member, nid))
        self.rt.run(commands_with(self.c, racing).archive(member, [nid]))
        item = self.model[member].get(nid)
        if item is not None and item.visible(self.now):
            item.archived = item.read = True

    @rule(minutes=st.integers(1, 90))
    def advance(self, minutes: int) -> None:
        self.rt.clock.advance(timedelta(minutes=minutes))

    @invariant()
    def every_member_counts_what_they_see(self) -> None:
        now = self.now
        for member, items in self.model.items():
            visible = {nid: item for nid, item in items.items() if item.visible(now)}
            expected = {nid for nid, item in visible.items() if not item.read}
            count = self.rt.run(self.queries.unread_count(member, None, now))
            page = self.rt.run(
                self.queries.page(
                    member, first=100, after=None, spec=InboxFilterSpec(), locales=(), now=now
                )
            )
            listed_unread = {item.id for item in page.items if not item.is_read}
            assert count == len(listed_unread) == len(expected), (member, count, expected)
            assert {item.id for item in page.items} == set(visible), member
            assert listed_unread == expected, member


def test_every_member_counts_what_they_see_through_fanouts_and_recalls(engine: Engine) -> None:
    global RUNTIME
    RUNTIME = Runtime(engine)
    try:
        machine = settings(
            max_examples=int(os.environ.get("POINTCLUB_MODEL_EXAMPLES", "10")),
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )(AudienceMachine)
        machine.TestCase().runTest()
    finally:
        RUNTIME.close()
        RUNTIME = None
