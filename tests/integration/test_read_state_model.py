"""Random sequences of deliveries, reads, mark-alls, archives, time passing and recalls, checked
after every step against a simple model: every count equals the number of visible unread items.

Runs on the session's DynamoDB engine (DynamoDB Local in CI) with its own event loop and client,
because hypothesis drives state machines synchronously.
"""

from __future__ import annotations

import asyncio
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
from core.domain.notification import NotificationState
from core.infra.dynamodb.client import DynamoConfig, open_client
from core.queries.inbox import InboxFilterSpec
from core.settings import Settings
from tests.builders import entry_for, notification
from tests.engines import Engine
from tests.fakes import FakeClock, SequentialIds

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
        self.rt.run(self.c.recalls.add(nid))
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
