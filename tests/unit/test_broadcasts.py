"""Broadcasts on the in-memory stores: published with no inbox written, merged into every inbox
they reach, read state only where a member acts, the audience rules, recall, expiry, the full
list, the scheduled lead, and the read counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from core.bootstrap import Container
from core.domain.notification import (
    Audience,
    AudienceKind,
    AudienceRule,
    LocalizedContent,
    NotificationPatch,
    NotificationState,
)
from core.domain.pointclub import ClubRecord
from core.domain.segment import SegmentKind, SegmentRule
from core.errors import Conflict
from core.queries.inbox import InboxFilterSpec
from core.settings import Settings
from tests.builders import broadcast_for, draft, notification, publish
from tests.fakes import FakeClock, World, fake_container

GOLD_ONLY = SegmentRule(SegmentKind.RANKS, ("GOLD",))


@pytest.fixture
def world(clock: FakeClock) -> World:
    world = World()
    joined = clock.now() - timedelta(days=90)
    for n in range(6):
        rank = "GOLD" if n < 3 else "SILVER"
        world.clubs[f"m{n}"] = ClubRecord.joined(rank, joined)
    return world


@pytest.fixture
def c(world: World, clock: FakeClock) -> Container:
    return fake_container(clock=clock, world=world)


async def count(c: Container, member: str) -> int:
    return await c.inbox_queries().unread_count(member, None, c.clock.now())


async def listed(c: Container, member: str, first: int = 20) -> list[tuple[str, bool]]:
    page = await c.inbox_queries().page(
        member, first=first, after=None, spec=_spec(), locales=("ja",), now=c.clock.now()
    )
    return [(item.id, item.is_read) for item in page.items]


def _spec() -> InboxFilterSpec:
    return InboxFilterSpec()


async def test_a_broadcast_is_published_once_and_reaches_every_member_at_once(
    c: Container, world: World, clock: FakeClock
) -> None:
    nid = await broadcast_for(c, clock.now())
    report = await c.prepare_notification().run(nid)
    assert report.broadcast and report.state is NotificationState.PUBLISHED
    assert report.audience == 6 and world.notifications[nid].broadcast_reach == 6
    assert world.entries == {}, "a broadcast writes no inbox"
    for member in world.clubs:
        assert await count(c, member) == 1
        assert await listed(c, member) == [(nid, False)]
    assert await count(c, "not-a-member") == 0  # no club record: not in ALL_MEMBERS
    again = await c.prepare_notification().run(nid)
    assert again.state is NotificationState.PUBLISHED and world.notifications[nid].version == 1


async def test_a_dry_run_sizes_the_audience_and_a_delivery_by_hand_is_refused(
    c: Container, world: World, clock: FakeClock
) -> None:
    nid = await broadcast_for(c, clock.now(), GOLD_ONLY, "gold")
    dry = await c.prepare_notification().run(nid, dry_run=True)
    assert dry.dry_run and dry.broadcast and dry.audience == 3
    assert world.notifications[nid].state is NotificationState.DRAFT
    with pytest.raises(Conflict, match="nothing to deliver by hand"):
        await c.prepare_notification().run(nid, only_user="m0")


async def test_members_at_visible_from_is_the_audience_drawn_then(
    c: Container, world: World, clock: FakeClock
) -> None:
    nid = await broadcast_for(c, clock.now(), GOLD_ONLY, "gold")
    await c.prepare_notification().run(nid)
    clock.advance(timedelta(days=1))
    # m0 drops to SILVER, m3 reaches GOLD, m9 joins as GOLD: all after the visibleFrom.
    world.clubs["m0"] = world.clubs["m0"].with_rank("SILVER", clock.now())
    world.clubs["m3"] = world.clubs["m3"].with_rank("GOLD", clock.now())
    world.clubs["m9"] = ClubRecord.joined("GOLD", clock.now())
    assert [await count(c, m) for m in ("m0", "m1", "m3", "m9")] == [1, 1, 0, 0]
    assert await listed(c, "m3") == [] and await listed(c, "m0") == [(nid, False)]


async def test_a_live_audience_follows_the_ranks_as_they_are(
    c: Container, world: World, clock: FakeClock
) -> None:
    nid = await broadcast_for(c, clock.now(), GOLD_ONLY, "gold", AudienceRule.LIVE)
    await c.prepare_notification().run(nid)
    await c.read_state_commands().mark_read("m0", [nid])
    world.clubs["m0"] = world.clubs["m0"].with_rank("SILVER", clock.now())
    world.clubs["m3"] = world.clubs["m3"].with_rank("GOLD", clock.now())
    assert await listed(c, "m0") == [], "the member's own copy goes with the rank"
    assert [await count(c, m) for m in ("m0", "m3")] == [0, 1]


async def test_read_state_is_written_only_where_a_member_acts(
    c: Container, world: World, clock: FakeClock
) -> None:
    commands = c.read_state_commands()
    nid = await broadcast_for(c, clock.now())
    await c.prepare_notification().run(nid)
    await commands.mark_read("m0", [nid])
    await commands.mark_read("m0", [nid])  # again: nothing more
    assert set(world.entries) == {"m0"} and set(world.states["m0"].own_broadcasts) == {nid}
    assert (await count(c, "m0"), await listed(c, "m0")) == (0, [(nid, True)])
    await commands.mark_unread("m0", [nid][0])
    assert (await count(c, "m0"), await listed(c, "m0")) == (1, [(nid, False)])
    await commands.archive("m0", [nid])
    assert (await count(c, "m0"), await listed(c, "m0")) == (0, [])
    await commands.mark_unread("m0", nid)  # archived: stays archived
    assert await count(c, "m0") == 0
    # The others have nothing written and still see it unread.
    assert await count(c, "m1") == 1 and "m1" not in world.entries


async def test_mark_all_covers_broadcasts_by_time_and_by_category(
    c: Container, world: World, clock: FakeClock
) -> None:
    commands = c.read_state_commands()
    first = await broadcast_for(c, clock.now())
    await c.prepare_notification().run(first)
    await commands.mark_all_read("m1", ["news"])  # another category: still unread
    assert await count(c, "m1") == 1
    await commands.mark_all_read("m1", ["campaign"])
    assert (await count(c, "m1"), await listed(c, "m1")) == (0, [(first, True)])
    clock.advance(timedelta(minutes=1))
    later = await broadcast_for(c, clock.now())
    await c.prepare_notification().run(later)
    assert await listed(c, "m1") == [(later, False), (first, True)]
    await commands.mark_unread("m1", first)  # unread again after a mark-all covered it
    assert await count(c, "m1") == 2
    await commands.mark_all_read("m1", None)
    assert await count(c, "m1") == 0


async def test_reads_of_a_broadcast_count_once_per_member(
    c: Container, world: World, clock: FakeClock
) -> None:
    commands = c.read_state_commands()
    nid = await broadcast_for(c, clock.now())
    await c.prepare_notification().run(nid)
    await commands.mark_read("m0", [nid])
    await commands.mark_all_read("m1", None)
    await commands.mark_unread("m0", nid)
    await commands.mark_read("m0", [nid])  # a re-read
    for member in ("m0", "m1"):
        await c.read_stats.count_pending_reads(member)
    assert (await c.read_stats.read_counts([nid]))[nid] == 2
    assert not world.entries.get("m1"), "counting a mark-all's read writes no inbox entry"
    assert (await count(c, "m1"), await listed(c, "m1")) == (0, [(nid, True)])
    stats = (await c.admin_queries().notification(nid)).stats  # type: ignore[union-attr]
    assert (stats.targeted, stats.delivered, stats.read) == (6, 6, 2)


async def test_recall_and_expiry_act_at_once_with_no_job(
    c: Container, world: World, clock: FakeClock
) -> None:
    commands = c.read_state_commands()
    recalled = await broadcast_for(c, clock.now())
    await c.prepare_notification().run(recalled)
    await commands.mark_unread("m0", recalled)
    await commands.mark_read("m0", [recalled])
    await c.authoring().recall("op", recalled, "wrong audience")
    assert [await count(c, m) for m in ("m0", "m1")] == [0, 0]
    assert await listed(c, "m0") == [] and recalled not in world.broadcasts
    expiring = await broadcast_for(c, clock.now())
    await c.prepare_notification().run(expiring)
    assert await count(c, "m2") == 1
    clock.advance(timedelta(days=31))  # the draft expires after 30 days
    assert await count(c, "m2") == 0 and await listed(c, "m2") == []


async def test_an_amend_shows_at_once(c: Container, world: World, clock: FakeClock) -> None:
    nid = await broadcast_for(c, clock.now())
    await c.prepare_notification().run(nid)
    patch = NotificationPatch(contents={"ja": LocalizedContent("新しい題", "本文")})
    await c.authoring().update("op", nid, patch)
    item = await c.inbox_queries().item("m4", nid, ("ja",), clock.now())
    assert item is not None and item.title == "新しい題"
    assert await c.inbox_queries().item("nobody", nid, ("ja",), clock.now()) is None


async def test_a_full_live_list_refuses_and_expired_broadcasts_make_room(
    world: World, clock: FakeClock
) -> None:
    c = fake_container(Settings(table_name="t", max_live_broadcasts=2), clock=clock, world=world)
    short = await broadcast_for(c, clock.now())
    world.notifications[short] = replace(
        world.notifications[short], expires_at=clock.now() + timedelta(hours=1)
    )
    await c.prepare_notification().run(short)
    await c.prepare_notification().run(await broadcast_for(c, clock.now()))
    third = await broadcast_for(c, clock.now())
    with pytest.raises(Conflict, match="live list holds 2 broadcasts"):
        await c.prepare_notification().run(third)
    assert world.notifications[third].state is NotificationState.DRAFT
    clock.advance(timedelta(hours=2))
    await c.prepare_notification().run(third)
    assert short not in world.broadcasts and len(world.broadcasts) == 2


async def test_prepare_due_publishes_a_scheduled_broadcast_ahead_and_it_shows_at_its_time(
    c: Container, world: World, clock: FakeClock
) -> None:
    at = clock.now() + timedelta(minutes=5)
    nid = await broadcast_for(c, clock.now())
    await c.authoring().schedule("op", nid, at)
    later = await broadcast_for(c, clock.now())
    await c.authoring().schedule("op", later, at + timedelta(hours=2))  # beyond the lead
    listed_members = await c.import_user_list().run("op", "vips", ["m0\n"])
    assert listed_members.members == 1
    fanout = await c.authoring().create(
        "op", draft(Audience(AudienceKind.SEGMENT, segment="vips"), clock.now())
    )
    await c.authoring().schedule("op", fanout.notification_id, at)  # a fan-out waits its time
    due = await c.prepare_due().run(lambda _: None)
    assert [r.notification_id for r in due.prepared] == [nid] and not due.failed
    assert world.notifications[nid].state is NotificationState.PUBLISHED
    assert world.notifications[later].state is NotificationState.SCHEDULED
    assert world.notifications[fanout.notification_id].state is NotificationState.SCHEDULED
    assert await count(c, "m1") == 0, "not before its visibleFrom"
    clock.advance(timedelta(minutes=5))
    assert await count(c, "m1") == 1


async def test_pages_merge_own_entries_and_broadcasts_newest_first(
    c: Container, world: World, clock: FakeClock
) -> None:
    expected: list[str] = []
    for n in range(7):
        clock.advance(timedelta(minutes=1))
        if n % 2:
            nid = await broadcast_for(c, clock.now())
            await c.prepare_notification().run(nid)
        else:
            nid = f"own{n}"
            item = notification(nid, visible_from=clock.now())
            await publish(c.notifications, c.members, item, ["m0"], clock.now())
        expected.insert(0, nid)
    seen: list[str] = []
    after = None
    while True:
        page = await c.inbox_queries().page(
            "m0", first=2, after=after, spec=_spec(), locales=("ja",), now=clock.now()
        )
        seen += [item.id for item in page.items]
        assert page.unread_count == 7
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert seen == expected


async def test_a_live_audience_member_who_gets_the_rank_after_a_mark_all_sees_it_unread(
    c: Container, world: World, clock: FakeClock
) -> None:
    commands = c.read_state_commands()
    nid = await broadcast_for(c, clock.now(), GOLD_ONLY, "gold", AudienceRule.LIVE)
    await c.prepare_notification().run(nid)
    await commands.mark_read("m0", [nid])
    await commands.mark_unread("m0", nid)  # m0 has a copy of their own, unread
    assert set(world.states["m0"].own_broadcasts) == {nid} and nid in world.states["m0"].unread
    world.clubs["m0"] = world.clubs["m0"].with_rank("SILVER", clock.now())
    clock.advance(timedelta(minutes=1))
    for member in ("m0", "m3"):
        await commands.mark_all_read(member, None)  # neither is reached now
    clock.advance(timedelta(minutes=1))
    for member in ("m0", "m3"):
        world.clubs[member] = world.clubs[member].with_rank("GOLD", clock.now())
    assert await listed(c, "m3") == [(nid, False)], "reached after the mark-all"
    assert await listed(c, "m0") == [(nid, False)], "the hidden copy kept its marker"
    assert [await count(c, m) for m in ("m0", "m3")] == [1, 1]


def test_a_record_from_before_rank_history_held_its_rank_all_along(clock: FakeClock) -> None:
    legacy = ClubRecord(rank_code="GOLD")
    assert legacy.rank_at(clock.now() - timedelta(days=3650)) == "GOLD"
    moved = legacy.with_rank("SILVER", clock.now())
    assert moved.rank_at(clock.now() - timedelta(days=1)) == "GOLD"
    assert moved.rank_at(clock.now()) == "SILVER" and moved.rank_since() == clock.now()
    assert moved.with_rank("SILVER", clock.now() + timedelta(days=1)) == moved  # no change


async def test_a_page_cut_short_by_hidden_entries_keeps_older_broadcasts_for_the_next(
    c: Container, world: World, clock: FakeClock
) -> None:
    """Past 4 reads of archived entries a page ends early with a cursor at the last entry read;
    a broadcast older than that must wait for the next page, not show twice."""
    nid = await broadcast_for(c, clock.now())
    await c.prepare_notification().run(nid)
    archived = []
    for n in range(60):
        clock.advance(timedelta(seconds=1))
        item = notification(f"old{n:02d}", visible_from=clock.now())
        await publish(c.notifications, c.members, item, ["m0"], clock.now())
        archived.append(item.notification_id)
    for start in range(0, 60, 30):
        await c.read_state_commands().archive("m0", archived[start : start + 30])
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = await c.inbox_queries().page(
            "m0", first=5, after=after, spec=_spec(), locales=("ja",), now=clock.now()
        )
        seen += [item.id for item in page.items]
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert seen == [nid]


async def test_records_of_copies_of_broadcasts_gone_for_good_leave_the_state(
    c: Container, world: World, clock: FakeClock
) -> None:
    commands = c.read_state_commands()
    recalled = await broadcast_for(c, clock.now())
    kept = await broadcast_for(c, clock.now())
    for nid in (recalled, kept):
        await c.prepare_notification().run(nid)
        await commands.mark_read("m0", [nid])
    await c.authoring().recall("op", recalled, "over")
    await commands.mark_unread("m0", kept)  # any write of the member's state
    assert set(world.states["m0"].own_broadcasts) == {kept}
    clock.advance(timedelta(days=31))  # kept has expired
    await commands.mark_all_read("m0", None)
    assert dict(world.states["m0"].own_broadcasts) == {}


async def test_a_mark_all_reads_only_the_broadcasts_the_member_saw(
    c: Container, world: World, clock: FakeClock
) -> None:
    """A broadcast published late (its visibleFrom before a mark-all the member made while it
    was not yet in the list) stays unread: a mark-all reads by name, not by time."""
    late = await broadcast_for(c, clock.now())
    await c.authoring().schedule("op", late, clock.now() + timedelta(minutes=5))
    clock.advance(timedelta(minutes=30))
    await c.read_state_commands().mark_all_read("m0", None)  # prepare-due has not run yet
    await c.prepare_due().run(lambda _: None)
    assert await listed(c, "m0") == [(late, False)] and await count(c, "m0") == 1


async def test_a_rank_change_inside_a_live_audience_keeps_what_was_read(
    c: Container, world: World, clock: FakeClock
) -> None:
    silver_or_gold = SegmentRule(SegmentKind.RANKS, ("GOLD", "SILVER"))
    nid = await broadcast_for(c, clock.now(), silver_or_gold, "both", AudienceRule.LIVE)
    await c.prepare_notification().run(nid)
    await c.read_state_commands().mark_all_read("m0", None)
    clock.advance(timedelta(minutes=1))
    world.clubs["m0"] = world.clubs["m0"].with_rank("SILVER", clock.now())
    assert await listed(c, "m0") == [(nid, True)] and await count(c, "m0") == 0


def test_one_change_never_adds_to_and_deletes_from_the_same_set(clock: FakeClock) -> None:
    from core.domain.inbox import BroadcastRead, InboxEntry
    from core.ports import ReadChange

    copy = InboxEntry("b", clock.now(), "news", None, clock.now(), broadcast=True)
    with pytest.raises(ValueError):
        ReadChange(copies=(copy,), forget=(("a", None),))
    read = BroadcastRead(at=clock.now())
    with pytest.raises(ValueError):
        ReadChange(cover=(("a", read),), uncover=(("b", read),))


async def test_ranks_recount_rebuilds_the_counts_from_the_index(c: Container, world: World) -> None:
    assert await c.recount_ranks().run() == {"GOLD": 3, "SILVER": 3}


async def test_a_recalled_broadcast_stays_among_the_recalled_for_a_while(
    c: Container, world: World, clock: FakeClock
) -> None:
    nid = await broadcast_for(c, clock.now())
    await c.prepare_notification().run(nid)
    await c.authoring().recall("op", nid, "over")
    cleanup = c.cleanup_recalled()
    assert await cleanup.run(nid) == 0 and await cleanup.pending() == [nid]
    clock.advance(timedelta(days=31))
    assert await cleanup.run(nid) == 0 and await cleanup.pending() == []
