"""Read-state commands interleaved at their worst moment, on the real engine: one command's
reads done, another's write committed, then the first one's write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest

from core.bootstrap import Container
from core.ports import EntryRef
from core.queries.inbox import InboxFilterSpec
from core.usecases.read_state import ReadStateCommands
from tests.builders import notification, publish
from tests.fakes import FakeClock

pytestmark = pytest.mark.integration


class AfterReading:
    """The member store, but once the entries are read, ``meanwhile`` runs before they are
    returned: a concurrent request commits between this command's reads and its write."""

    def __init__(self, members: Any, meanwhile: Callable[[], Awaitable[object]]) -> None:
        self._members = members
        self._meanwhile: Callable[[], Awaitable[object]] | None = meanwhile

    def __getattr__(self, name: str) -> Any:
        return getattr(self._members, name)

    async def inbox_entries(self, user_id: str, refs: Sequence[EntryRef]) -> Any:
        found = await self._members.inbox_entries(user_id, refs)
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            await meanwhile()
        return found


def commands_with(container: Container, members: Any) -> ReadStateCommands:
    return ReadStateCommands(
        members=members,
        notifications=container.notifications,
        live=container.live,
        writer=container.members,
        clock=container.clock,
        categories=container.settings.categories,
        events=container.events,
    )


async def test_archive_racing_mark_unread_leaves_no_counted_marker(
    container: Container, clock: FakeClock
) -> None:
    item = notification("n1", visible_from=clock.now() - timedelta(minutes=5))
    await publish(container.notifications, container.members, item, ["alice"], clock.now())
    plain = container.read_state_commands()
    await plain.mark_read("alice", ["n1"])

    racing = AfterReading(container.members, lambda: plain.mark_unread("alice", "n1"))
    await commands_with(container, racing).archive("alice", ["n1"])

    queries = container.inbox_queries()
    assert await queries.unread_count("alice", None, clock.now()) == 0
    unread = await queries.page(
        "alice",
        first=20,
        after=None,
        spec=InboxFilterSpec(unread_only=True),
        locales=(),
        now=clock.now(),
    )
    assert unread.items == () and unread.unread_count == 0
    archived = await queries.page(
        "alice",
        first=20,
        after=None,
        spec=InboxFilterSpec(include_archived=True),
        locales=(),
        now=clock.now(),
    )
    assert [(i.id, i.archived_at is not None) for i in archived.items] == [("n1", True)]


async def test_mark_unread_racing_archive_does_not_unarchive(
    container: Container, clock: FakeClock
) -> None:
    item = notification("n1", visible_from=clock.now() - timedelta(minutes=5))
    await publish(container.notifications, container.members, item, ["alice"], clock.now())
    plain = container.read_state_commands()
    await plain.mark_read("alice", ["n1"])

    racing = AfterReading(container.members, lambda: plain.archive("alice", ["n1"]))
    await commands_with(container, racing).mark_unread("alice", "n1")

    queries = container.inbox_queries()
    assert await queries.unread_count("alice", None, clock.now()) == 0
    visible = await queries.page(
        "alice", first=20, after=None, spec=InboxFilterSpec(), locales=(), now=clock.now()
    )
    assert visible.items == ()
