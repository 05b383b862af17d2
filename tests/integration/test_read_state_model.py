"""Random sequences of deliveries, reads, mark-alls, archives, time passing and recalls, checked
after every step against a simple model: every count equals the number of visible unread items.
The second machine does it for several members at once, through the real fan-out (overlapping
runs, deliveries by hand, recall clean-up, racing archives) and broadcasts (stored once, both
audience rules, ranks changing and members joining after them, amends).

Runs on the session's DynamoDB engine (DynamoDB Local in CI) with its own event loop and client,
because hypothesis drives state machines synchronously.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from core.bootstrap import Container, build_container
from core.domain.notification import (
    Audience,
    AudienceKind,
    AudienceRule,
    LocalizedContent,
    Notification,
    NotificationPatch,
    NotificationState,
)
from core.domain.pointclub import ClubRecord
from core.domain.segment import SegmentKind, SegmentRule
from core.errors import Conflict
from core.infra.dynamodb.client import open_client
from core.infra.dynamodb.table import delete_table
from core.queries.inbox import InboxFilterSpec
from core.settings import Settings
from tests.builders import draft, entry_for, notification, user_list
from tests.engines import Engine, client_config
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
        self._client_context = open_client(client_config(engine.url))
        self.client = self.run(self._client_context.__aenter__())
        self.clock = FakeClock()
        self.container = build_container(
            self.settings, self.client, clock=self.clock, ids=SequentialIds()
        )
        self.run(self.container.system.create_table())

    def run(self, coroutine: Awaitable[T]) -> T:
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


# Broadcast segments (stored once, merged on read) and the user list that is fanned out.
BROADCASTS = {"gold": frozenset({"GOLD"}), "silver": frozenset({"SILVER"}), "everyone": None}
LISTED = ("ma", "mb", "me")


@dataclass
class Broadcast:
    """What the model knows of a broadcast: its audience rule and its life."""

    ranks: frozenset[str] | None
    rule: AudienceRule
    category: str
    visible_from: datetime
    expires_at: datetime | None
    recalled: bool = False


class AudienceMachine(RuleBasedStateMachine):
    """Several members; notifications fanned out to a user list (sometimes two runs at once, and
    deliveries by hand) and broadcasts to ranks or to everyone (members at visibleFrom, or the
    live audience), mixed; reads, unreads, archives (one racing a mark-unread) and mark-alls with
    and without categories; ranks that change and members who join after a broadcast; recalls
    with and without their clean-up, expiry, amends and time passing. After every step, for
    every member, ``unreadCount`` = the listed items with ``isRead: false`` = the model's count,
    and the listed items are the model's visible ones."""

    MEMBERS = ("ma", "mb", "mc", "md")
    JOINERS = ("me", "mf")

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
        self.rt.run(self.c.system.create_table())
        joined = self.now - timedelta(days=1)
        self.history: dict[str, list[tuple[datetime, str]]] = {}
        for index, member in enumerate(self.MEMBERS):
            rank = "GOLD" if index % 2 else "SILVER"
            self.rt.run(self.c.ledger.put_club(member, ClubRecord.joined(rank, joined)))
            self.history[member] = [(joined, rank)]
        for name, ranks in BROADCASTS.items():
            rule = (
                SegmentRule(SegmentKind.ALL_MEMBERS)
                if ranks is None
                else SegmentRule(SegmentKind.RANKS, tuple(ranks))
            )
            self.rt.run(self.c.segment_authoring().create("op", name, rule))
        self.rt.run(user_list(self.c, "listed", LISTED))
        everyone = (*self.MEMBERS, *self.JOINERS)
        self.model: dict[str, dict[str, Item]] = {member: {} for member in everyone}
        self.broadcasts: dict[str, Broadcast] = {}
        self.acted: dict[str, dict[str, Item]] = {member: {} for member in everyone}
        self.read_by_mark_all: dict[str, set[str]] = {member: set() for member in everyone}
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
        return st.sampled_from(sorted({*self.model[member], *self.broadcasts}) or ["none"])

    # -- the model's rules -----------------------------------------------------------------

    def rank_at(self, member: str, moment: datetime) -> str | None:
        held = None
        for since, rank in self.history.get(member, []):
            if since <= moment:
                held = rank
        return held

    def reaches(self, member: str, broadcast: Broadcast) -> bool:
        history = self.history.get(member)
        if not history:
            return False
        if broadcast.rule is AudienceRule.LIVE:
            rank: str | None = history[-1][1]
        else:
            rank = self.rank_at(member, broadcast.visible_from)
        return rank is not None and (broadcast.ranks is None or rank in broadcast.ranks)

    def covered(self, member: str, nid: str) -> bool:
        """A mark-all read it: one made while the member saw it."""
        return nid in self.read_by_mark_all[member]

    def broadcast_visible(self, member: str, nid: str, now: datetime) -> bool:
        broadcast = self.broadcasts[nid]
        alive = broadcast.expires_at is None or now < broadcast.expires_at
        if broadcast.recalled or broadcast.visible_from > now or not alive:
            return False
        acted = self.acted[member].get(nid)
        archived = acted is not None and acted.archived
        return not archived and self.reaches(member, broadcast)

    def broadcast_visible_to(self, member: str, nid: str) -> bool:
        return nid in self.broadcasts and self.broadcast_visible(member, nid, self.now)

    def visible(self, member: str, now: datetime) -> dict[str, bool]:
        """Each visible item of the member: whether it is read."""
        shown = {nid: item.read for nid, item in self.model[member].items() if item.visible(now)}
        for nid in self.broadcasts:
            if self.broadcast_visible(member, nid, now):
                acted = self.acted[member].get(nid)
                shown[nid] = acted.read if acted is not None else self.covered(member, nid)
        return shown

    def act(self, member: str, nid: str) -> Item:
        """The member's own copy of a broadcast, made when they act on it."""
        broadcast = self.broadcasts[nid]
        return self.acted[member].setdefault(
            nid,
            Item(
                broadcast.category,
                broadcast.visible_from,
                broadcast.expires_at,
                read=self.covered(member, nid),
            ),
        )

    # -- rules -------------------------------------------------------------------------------

    def _create(
        self, segment: str, category: str, offset: int, lifetime: int | None, **kw: Any
    ) -> str:
        visible_from = self.now + timedelta(minutes=offset)
        expires = None if lifetime is None else visible_from + timedelta(minutes=lifetime)
        request = replace(
            draft(Audience(AudienceKind.SEGMENT, segment=segment, **kw), self.now),
            category=category,
            visible_from=visible_from,
            expires_at=expires,
        )
        return self.rt.run(self.c.authoring().create("op", request)).notification_id

    async def _prepare(self, nid: str, runs: int) -> None:
        runners = [self.c.prepare_notification(concurrency=4) for _ in range(runs)]
        await asyncio.gather(*(runner.run(nid) for runner in runners))

    @rule(
        category=st.sampled_from(CATEGORIES),
        offset=st.one_of(st.just(0), st.integers(1, 60)),  # visible at once, or later
        lifetime=st.one_of(st.none(), st.integers(1, 240)),
        runs=st.integers(1, 2),
    )
    def fan_out(self, category: str, offset: int, lifetime: int | None, runs: int) -> None:
        nid = self._create("listed", category, offset, lifetime)
        self.rt.run(self._prepare(nid, runs))
        self.sent[nid] = self.rt.run(self.c.notifications.get_many([nid]))[nid]
        sent = self.sent[nid]
        for member in LISTED:
            self.model[member][nid] = Item(category, sent.visible_from or self.now, sent.expires_at)

    @rule(
        segment=st.sampled_from(sorted(BROADCASTS)),
        audience_rule=st.sampled_from(list(AudienceRule)),
        category=st.sampled_from(CATEGORIES),
        offset=st.sampled_from([0, 0, 0, 10, 45]),  # mostly visible at once
        lifetime=st.one_of(st.none(), st.integers(1, 240)),
        runs=st.integers(1, 2),
    )
    def broadcast(
        self,
        segment: str,
        audience_rule: AudienceRule,
        category: str,
        offset: int,
        lifetime: int | None,
        runs: int,
    ) -> None:
        nid = self._create(segment, category, offset, lifetime, rule=audience_rule)
        self.rt.run(self._prepare(nid, runs))
        sent = self.rt.run(self.c.notifications.get_many([nid]))[nid]
        assert sent.state is NotificationState.PUBLISHED and sent.visible_from is not None
        self.sent[nid] = sent
        self.broadcasts[nid] = Broadcast(
            BROADCASTS[segment], audience_rule, category, sent.visible_from, sent.expires_at
        )

    @rule(member=st.sampled_from(MEMBERS), data=st.data())
    def deliver_by_hand(self, member: str, data: st.DataObject) -> None:
        nid = data.draw(self.sent_ids())
        if nid not in self.sent:
            return
        try:
            self.rt.run(self.c.prepare_notification().run(nid, only_user=member))
        except Conflict:
            assert self.sent[nid].state is NotificationState.RECALLED or nid in self.broadcasts
            return
        assert nid not in self.broadcasts, "a broadcast is never delivered by hand"
        sent = self.sent[nid]
        assert sent.visible_from is not None
        self.model[member].setdefault(nid, Item(sent.category, sent.visible_from, sent.expires_at))

    @rule(member=st.sampled_from(MEMBERS), rank=st.sampled_from(["GOLD", "SILVER", "REGULAR"]))
    def change_rank(self, member: str, rank: str) -> None:
        record = self.rt.run(self.c.members.club(member))
        assert record is not None
        self.rt.run(self.c.ledger.put_club(member, record.with_rank(rank, self.now)))
        if rank != self.history[member][-1][1]:
            self.history[member].append((self.now, rank))

    @rule(member=st.sampled_from(JOINERS), rank=st.sampled_from(["GOLD", "SILVER"]))
    def join(self, member: str, rank: str) -> None:
        if member in self.history:
            return
        self.rt.run(self.c.ledger.put_club(member, ClubRecord.joined(rank, self.now)))
        self.history[member] = [(self.now, rank)]

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
        if nid in self.broadcasts:
            self.broadcasts[nid].recalled = True
        if clean_up:
            self.recall_cleanup()

    @rule(data=st.data())
    def amend(self, data: st.DataObject) -> None:
        nid = data.draw(self.sent_ids())
        if nid not in self.sent or self.sent[nid].state is NotificationState.RECALLED:
            return
        contents = {"ja": LocalizedContent("改訂", f"{self.now.isoformat()}")}
        self.rt.run(self.c.authoring().update("op", nid, NotificationPatch(contents=contents)))
        item = self.rt.run(self.queries.items(self._a_viewer(nid), [nid], ("ja",), self.now))
        assert all(view.title == "改訂" for view in item)

    def _a_viewer(self, nid: str) -> str:
        for member in self.model:
            if nid in self.model[member] or (
                nid in self.broadcasts and self.broadcast_visible(member, nid, self.now)
            ):
                return member
        return "nobody"

    @rule()
    def recall_cleanup(self) -> None:
        cleanup = self.c.cleanup_recalled()
        for nid in self.rt.run(cleanup.pending()):
            self.rt.run(cleanup.run(nid))

    @rule(member=st.sampled_from((*MEMBERS, *JOINERS)), data=st.data())
    def read(self, member: str, data: st.DataObject) -> None:
        ids = data.draw(st.lists(self.member_ids(member), max_size=3))
        self.rt.run(self.commands.mark_read(member, [i for i in ids if i != "none"]))
        for nid in ids:
            item = self.model[member].get(nid)
            if item is not None and item.visible(self.now):
                item.read = True
            elif self.broadcast_visible_to(member, nid) and (
                nid in self.acted[member] or not self.covered(member, nid)
            ):
                self.act(member, nid).read = True

    @rule(member=st.sampled_from((*MEMBERS, *JOINERS)), data=st.data())
    def unread(self, member: str, data: st.DataObject) -> None:
        nid = data.draw(self.member_ids(member))
        self.rt.run(self.commands.mark_unread(member, nid))
        item = self.model[member].get(nid)
        if item is not None and item.visible(self.now):
            item.read = False
        elif self.broadcast_visible_to(member, nid) and (
            nid in self.acted[member] or self.covered(member, nid)
        ):
            self.act(member, nid).read = False

    @rule(
        member=st.sampled_from((*MEMBERS, *JOINERS)),
        categories=st.one_of(st.none(), st.sets(st.sampled_from(CATEGORIES), max_size=2)),
    )
    def mark_all(self, member: str, categories: set[str] | None) -> None:
        chosen = None if categories is None else sorted(categories)
        self.rt.run(self.commands.mark_all_read(member, chosen))
        for item in self.model[member].values():
            if item.visible(self.now) and (chosen is None or item.category in chosen):
                item.read = True
        for nid, broadcast in self.broadcasts.items():
            in_scope = chosen is None or broadcast.category in chosen
            if not (in_scope and self.broadcast_visible(member, nid, self.now)):
                continue
            acted = self.acted[member].get(nid)
            if acted is not None:
                acted.read = True
            else:
                self.read_by_mark_all[member].add(nid)

    @rule(member=st.sampled_from((*MEMBERS, *JOINERS)), data=st.data())
    def archive_racing_unread(self, member: str, data: st.DataObject) -> None:
        """An archive whose reads are done when a mark-unread of the same item commits."""
        nid = data.draw(self.member_ids(member))
        plain = self.commands
        racing = AfterReading(self.c.members, lambda: plain.mark_unread(member, nid))
        self.rt.run(commands_with(self.c, racing).archive(member, [nid]))
        item = self.model[member].get(nid)
        if item is not None and item.visible(self.now):
            item.archived = item.read = True
        elif nid in self.broadcasts and self.broadcast_visible(member, nid, self.now):
            acted = self.act(member, nid)
            acted.archived = acted.read = True

    @rule(minutes=st.integers(1, 90))
    def advance(self, minutes: int) -> None:
        self.rt.clock.advance(timedelta(minutes=minutes))

    @invariant()
    def every_member_counts_what_they_see(self) -> None:
        now = self.now
        for member in self.model:
            shown = self.visible(member, now)
            expected = {nid for nid, read in shown.items() if not read}
            count = self.rt.run(self.queries.unread_count(member, None, now))
            page = self.rt.run(
                self.queries.page(
                    member, first=100, after=None, spec=InboxFilterSpec(), locales=(), now=now
                )
            )
            listed_unread = {item.id for item in page.items if not item.is_read}
            assert count == len(listed_unread) == len(expected), (member, count, expected)
            assert {item.id for item in page.items} == set(shown), member
            assert listed_unread == expected, member


def test_every_member_counts_what_they_see_through_fanouts_and_recalls(engine: Engine) -> None:
    global RUNTIME
    RUNTIME = Runtime(engine)
    try:
        machine = settings(
            max_examples=int(os.environ.get("POINTCLUB_MODEL_EXAMPLES", "10")),
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )(AudienceMachine)
        machine.TestCase().runTest()
    finally:
        RUNTIME.close()
        RUNTIME = None
