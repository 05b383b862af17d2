"""Segment authoring, user-list imports, read-state commands and the admin read model on the
in-memory stores, with their refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.bootstrap import Container
from core.domain.notification import NotificationState
from core.domain.pointclub import ClubRecord
from core.domain.segment import SegmentKind, SegmentRule
from core.errors import Conflict, InvalidInput, Unavailable, ValidationFailed
from tests.builders import notification, publish
from tests.fakes import FakeClock, World, fake_container


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def c(world: World, clock: FakeClock) -> Container:
    return fake_container(clock=clock, world=world)


async def test_segments_are_checked_and_named_once(c: Container) -> None:
    gold = SegmentRule(SegmentKind.RANKS, ("GOLD",))
    created = await c.segment_authoring().create("op", "gold", gold)
    assert created.created_by == "op"
    with pytest.raises(Conflict):
        await c.segment_authoring().create("op", "gold", gold)
    with pytest.raises(ValidationFailed) as raised:
        await c.segment_authoring().create(
            "op", "Bad Name!", SegmentRule(SegmentKind.RANKS, ("MITHRIL",))
        )
    assert {e.field for e in raised.value.errors} >= {"name"}
    assert [s.name for s in await c.admin_queries().segments()] == ["gold"]


async def test_a_user_list_import_reports_bad_lines_and_counts_members_once(
    c: Container, world: World
) -> None:
    lines: list[bytes | str] = [
        "user_id\n",
        "alice\n",
        "bob,extra\n",
        "# a comment\n",
        "\n",
        "not a member!\n",
        b"\xff\xfe\n",
        "alice\n",
    ]
    counted: list[int] = []
    report = await c.import_user_list().run("op", "vips", lines, counted.append)
    assert (report.imported, report.members) == (3, 2)
    assert [(b.number, b.reason.split(" ")[0]) for b in report.bad] == [(6, "not"), (7, "not")]
    assert world.lists["vips"] == {"alice", "bob"}
    stored = await c.segments.get("vips")
    assert stored is not None and stored.members == 2
    again = await c.import_user_list().run("op", "vips", ["carol\n"])
    assert again.members == 3
    await c.segment_authoring().create("op", "everyone", SegmentRule(SegmentKind.ALL_MEMBERS))
    with pytest.raises(Conflict):  # not a list
        await c.import_user_list().run("op", "everyone", ["dave\n"])
    with pytest.raises(ValidationFailed):
        await c.import_user_list().run("op", "Bad Name", ["dave\n"])


async def test_read_state_commands_keep_the_count_exact(
    c: Container, world: World, clock: FakeClock
) -> None:
    now = clock.now()
    for n in range(4):
        item = notification(f"n{n}", visible_from=now - timedelta(hours=n + 1), category="news")
        await publish(c.notifications, c.members, item, ["alice"], now)
    point = notification("p", visible_from=now - timedelta(hours=9), category="point")
    await publish(c.notifications, c.members, point, ["alice"], now)
    commands = c.read_state_commands()
    queries = c.inbox_queries()

    assert await commands.mark_read("alice", ["n0", "n1", "nobody"]) == ["n0", "n1", "nobody"]
    assert await queries.unread_count("alice", None, now) == 3
    await commands.mark_unread("alice", "n0")
    await commands.mark_unread("alice", "n0")  # twice: as once
    assert await queries.unread_count("alice", None, now) == 4
    await commands.archive("alice", ["n0"])
    await commands.mark_unread("alice", "n0")  # archived: stays out of the count
    assert await queries.unread_count("alice", None, now) == 3
    await commands.mark_all_read("alice", ["news"])
    assert await queries.unread_count("alice", None, now) == 1
    assert await queries.unread_count("alice", ["point"], now) == 1
    await commands.mark_all_read("alice", None)
    assert await queries.unread_count("alice", None, now) == 0
    assert set(world.pending["alice"]) == {"n0", "n1", "n2", "n3", "p"}  # reads to count
    with pytest.raises(InvalidInput):
        await commands.mark_all_read("alice", ["unknown"])
    with pytest.raises(InvalidInput):
        await commands.mark_read("alice", ["x"] * 101)


async def test_a_recalled_notification_leaves_the_count_at_once(
    c: Container, world: World, clock: FakeClock
) -> None:
    now = clock.now()
    item = notification("n1", visible_from=now - timedelta(hours=1))
    await publish(c.notifications, c.members, item, ["alice"], now)
    assert await c.inbox_queries().unread_count("alice", None, now) == 1
    await c.live.add("n1")
    assert await c.inbox_queries().unread_count("alice", None, now) == 0
    await c.read_state_commands().mark_unread("alice", "n1")
    assert await c.inbox_queries().unread_count("alice", None, now) == 0
    world.down = Unavailable("no answer")
    with pytest.raises(Unavailable):
        await c.read_state_commands().mark_read("alice", ["n1"])


async def test_the_admin_listing_pages_across_states_with_true_figures(
    c: Container, world: World, clock: FakeClock
) -> None:
    now = clock.now()
    states = [NotificationState.PUBLISHED, NotificationState.DRAFT, NotificationState.RECALLED]
    for n in range(6):
        item = notification(f"n{n}", visible_from=now + timedelta(minutes=n), state=states[n % 3])
        await c.notifications.put(item)
    await publish(c.notifications, c.members, world.notifications["n0"], ["a", "b"], now)
    await c.read_state_commands().mark_read("a", ["n0"])
    await c.read_stats.count_pending_reads("a")

    queries = c.admin_queries()
    first = await queries.notifications(first=4, after=None, state=None)
    assert [v.notification.notification_id for v in first.items] == ["n5", "n4", "n3", "n2"]
    rest = await queries.notifications(first=4, after=first.end_cursor, state=None)
    assert [v.notification.notification_id for v in rest.items] == ["n1", "n0"]
    assert not rest.has_next_page
    drafts = await queries.notifications(first=10, after=None, state=NotificationState.DRAFT)
    assert [v.notification.notification_id for v in drafts.items] == ["n4", "n1"]
    view = await queries.notification("n0")
    assert view is not None and view.stats.read == 1
    assert await queries.notification("n9") is None
    with pytest.raises(ValidationFailed):
        await queries.segment_size(SegmentRule(SegmentKind.USER_LIST))
    world.clubs.update({"a": ClubRecord(rank_code="GOLD"), "b": ClubRecord(rank_code="GOLD")})
    assert await queries.segment_size(SegmentRule(SegmentKind.RANKS, ("GOLD",))) == 2
    with pytest.raises(InvalidInput):
        await queries.notifications(first=0, after=None, state=None)
