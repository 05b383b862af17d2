"""Live events without a broker: what the usecases publish (the in-memory stores, a recorder),
the message format a shared broker may corrupt, and a subscription's sequence and bounded feed."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from core.bootstrap import Container
from core.domain.events import (
    ChangeKind,
    CountedChange,
    EventSequence,
    Feed,
    InboxChange,
    TooSlow,
    new_item,
)
from core.domain.notification import LocalizedContent, NotificationPatch
from core.domain.pointclub import ClubRecord
from core.errors import InvalidInput
from core.infra.event_hub import EventHub
from core.infra.events import EventChannels
from resolvers.live_service import LiveService
from tests.builders import broadcast_for, notification_for_all
from tests.fakes import EVERYONE, FakeClock, RecordedEvents, World, fake_container

MEMBERS = [f"m{n}" for n in range(5)]


@pytest.fixture
def world(clock: FakeClock) -> World:
    world = World()
    for member in MEMBERS:
        world.clubs[member] = ClubRecord.joined("GOLD", clock.now() - timedelta(days=30))
    return world


@pytest.fixture
def events() -> RecordedEvents:
    return RecordedEvents()


@pytest.fixture
def c(world: World, clock: FakeClock, events: RecordedEvents) -> Container:
    return fake_container(clock=clock, world=world, events=events)


async def test_a_fanout_tells_each_member_it_reached_once_and_a_rerun_tells_nobody(
    c: Container, clock: FakeClock, events: RecordedEvents
) -> None:
    nid = await notification_for_all(c, clock.now())
    await c.prepare_notification().run(nid)
    assert sorted(events.take()) == [(m, new_item(nid)) for m in MEMBERS]
    await c.prepare_notification().run(nid)
    assert events.take() == []


async def test_a_broadcast_is_one_event_for_everyone_whatever_the_audience(
    c: Container, clock: FakeClock, events: RecordedEvents
) -> None:
    nid = await broadcast_for(c, clock.now())
    await c.prepare_notification().run(nid)
    assert events.take() == [(EVERYONE, new_item(nid))]
    await c.prepare_notification().run(nid)  # published already: nothing new
    assert events.take() == []


async def test_amends_and_recalls_of_what_members_may_have_are_told_drafts_are_not(
    c: Container, clock: FakeClock, events: RecordedEvents
) -> None:
    draft = await notification_for_all(c, clock.now())
    patch = NotificationPatch(contents={"ja": LocalizedContent("新", "本文")})
    await c.authoring().update("op", draft, patch)
    await c.authoring().recall("op", draft, "never sent")
    assert events.take() == []
    nid = await broadcast_for(c, clock.now(), segment="all-2")
    await c.prepare_notification().run(nid)
    events.take()
    await c.authoring().update("op", nid, patch)
    await c.authoring().recall("op", nid, "wrong")
    assert events.take() == [
        (EVERYONE, InboxChange(ChangeKind.AMENDED, (nid,))),
        (EVERYONE, InboxChange(ChangeKind.RECALLED, (nid,))),
    ]


async def test_read_state_events_name_only_what_changed(
    c: Container, clock: FakeClock, events: RecordedEvents
) -> None:
    nid = await notification_for_all(c, clock.now())
    await c.prepare_notification().run(nid)
    events.take()
    commands = c.read_state_commands()
    await commands.mark_unread("m1", nid)  # unread already: no change, no event
    await commands.mark_read("m1", [nid, "not-theirs"])
    await commands.mark_read("m1", [nid])  # read already
    await commands.mark_unread("m1", nid)
    await commands.archive("m1", [nid])
    await commands.mark_all_read("m1", ["news", "campaign"])
    await commands.mark_all_read("m2", None)
    assert events.take() == [
        ("m1", InboxChange(ChangeKind.READ, (nid,))),
        ("m1", InboxChange(ChangeKind.UNREAD, (nid,))),
        ("m1", InboxChange(ChangeKind.ARCHIVED, (nid,))),
        ("m1", InboxChange(ChangeKind.ALL_READ, categories=("campaign", "news"))),
        ("m2", InboxChange(ChangeKind.ALL_READ)),
    ]


def test_a_change_survives_the_broker_and_anything_else_there_is_refused() -> None:
    change = InboxChange(ChangeKind.ALL_READ, (), ("news",))
    assert InboxChange.decode(change.encode()) == change
    assert CountedChange.parse(b"7 " + new_item("n1").encode()) == CountedChange(7, new_item("n1"))
    for junk in (
        b"",
        b"7",
        b"x {}",
        b"7 not json",
        b'7 {"k": "DELETE_EVERYTHING"}',
        b'7 {"k": "READ", "ids": "n1"}',
        b'7 {"k": "READ", "ids": [1]}',
        b'7 {"k": "READ", "ids": ["bad id with spaces"]}',
        b'7 {"k": "ALL_READ", "c": "news"}',
        b'7 {"k": "READ", "ids": [' + b",".join([b'"n"'] * 101) + b"]}",
        b"7 " + b" " * 20_000,
    ):
        with pytest.raises(InvalidInput):
            CountedChange.parse(junk)
    with pytest.raises(ValueError):
        InboxChange(ChangeKind.READ, tuple(f"n{i}" for i in range(101)))


def test_the_sequence_moves_by_one_per_event_and_skips_what_the_baseline_counted() -> None:
    sequence = EventSequence(member=3, shared=5)
    assert sequence.value == 8
    assert not sequence.advance(shared=False, counter=3)  # published before the baseline
    assert sequence.advance(shared=False, counter=4) and sequence.value == 9
    assert not sequence.advance(shared=True, counter=5)
    assert sequence.advance(shared=True, counter=6) and sequence.value == 10
    assert sequence.advance(shared=True, counter=9) and sequence.value == 13  # a gap shows
    # Once a counter has moved, a smaller one is the broker forgetting: taken, and it shows.
    assert sequence.advance(shared=False, counter=1) and sequence.value == 10


async def test_a_feed_is_bounded_and_ends_once_with_the_reason() -> None:
    feed = Feed("alice", limit=3)
    feed.sequence = EventSequence(member=1, shared=0)
    ended: list[object] = []
    feed.when_ended(ended.append)
    feed.offer(False, CountedChange(1, new_item("old")))  # in the baseline: skipped on read
    feed.offer(False, CountedChange(2, new_item("n2")))
    assert await feed.next() == (False, CountedChange(2, new_item("n2")))
    for counter in range(3, 7):
        feed.offer(False, CountedChange(counter, new_item(f"n{counter}")))
    assert isinstance(feed.ended, TooSlow) and len(ended) == 1
    feed.offer(False, CountedChange(9, new_item("n9")))
    with pytest.raises(TooSlow):
        await asyncio.wait_for(feed.next(), 1)
    assert len(ended) == 1
    late: list[object] = []
    feed.when_ended(late.append)  # attached after the end (a subscription still setting up)
    assert len(late) == 1 and isinstance(late[0], TooSlow)


async def test_a_broadcast_published_ahead_is_announced_at_its_time_once(
    c: Container, clock: FakeClock, events: RecordedEvents
) -> None:
    nid = await broadcast_for(c, clock.now())
    at = clock.now() + timedelta(minutes=5)
    await c.authoring().schedule("op", nid, at)
    await c.prepare_due().run(lambda _: None)  # within the lead: published ahead
    assert events.take() == [] and events.upcoming_at == {nid: at}
    clock.advance(timedelta(minutes=6))
    await c.prepare_due().run(lambda _: None)
    await c.prepare_due().run(lambda _: None)
    assert events.take() == [(EVERYONE, new_item(nid))]
    clock.advance(timedelta(hours=1))  # long past: not announced again by a later sweep
    await c.prepare_due().run(lambda _: None)
    assert events.take() == []


def test_renders_share_loaders_only_if_made_after_their_event_arrived(c: Container) -> None:
    off = EventHub(None, EventChannels.for_table("t"), queue_limit=1)
    live = LiveService(c, off, c.settings)
    first = live._loaders(arrived=time.monotonic())
    assert live._loaders(arrived=time.monotonic() - 1) is first  # arrived before: its reads
    assert live._loaders(arrived=time.monotonic() + 1) is not first  # arrived after: fresh
