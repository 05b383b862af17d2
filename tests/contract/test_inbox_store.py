"""``InboxStore``: deliveries, inbox reads and read state, the same on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.domain.pointclub import ClubRecord, LedgerEntry, PointEntryKind
from core.ports import EntryRef, InboxScanRequest, ReadChange
from tests.builders import entry_for, notification, publish
from tests.contract.conftest import Backend
from tests.fakes import FakeClock


async def test_a_delivery_adds_the_entry_and_its_marker_once(
    backend: Backend, clock: FakeClock
) -> None:
    members = backend.container.members
    item = notification("n1", visible_from=clock.now() - timedelta(hours=1))
    entry = entry_for(item, clock.now())
    assert await members.deliver("alice", entry) is True
    await members.apply("alice", ReadChange(read=(entry.marker(),)), clock.now())
    assert await members.deliver("alice", entry) is False  # the read state is left as it is
    assert (await members.inbox_state("alice")).unread == {}
    stored = await members.inbox_entry("alice", "n1", entry.visible_from)
    assert stored is not None and stored.notification_id == "n1"
    assert await members.inbox_entry("alice", "n1", entry.visible_from + timedelta(1)) is None


async def test_scans_go_newest_first_hide_what_is_hidden_and_page_without_repeats(
    backend: Backend, clock: FakeClock
) -> None:
    c = backend.container
    now = clock.now()
    for n in range(7):
        item = notification(f"n{n}", visible_from=now - timedelta(hours=10 - n), category="news")
        await publish(c.notifications, c.members, item, ["alice"], now)
    later = notification("future", visible_from=now + timedelta(hours=1))
    gone = notification("expired", visible_from=now - timedelta(days=40))
    other = notification("point", visible_from=now - timedelta(hours=20), category="point")
    for item in (later, gone, other):
        await publish(c.notifications, c.members, item, ["alice"], now)

    seen: list[str] = []
    after = None
    for _ in range(20):
        scan = await c.members.scan_inbox("alice", InboxScanRequest(after, 3, now))
        seen += [e.notification_id for e in scan.entries]
        if scan.resume_after is None:
            break
        after = scan.resume_after
    assert seen == [*(f"n{n}" for n in reversed(range(7))), "point"]

    news = await c.members.scan_inbox(
        "alice", InboxScanRequest(None, 50, now, categories=frozenset({"point"}))
    )
    assert [e.notification_id for e in news.entries] == ["point"]


async def test_a_scan_with_status_brings_the_state_and_club_along(
    backend: Backend, clock: FakeClock
) -> None:
    c = backend.container
    now = clock.now()
    await publish(c.notifications, c.members, notification("n1", visible_from=now), ["al"], now)
    await c.ledger.put_club("al", ClubRecord(rank_code="GOLD"))
    scan = await c.members.scan_inbox("al", InboxScanRequest(None, 5, now, with_status=True))
    assert scan.state is not None and set(scan.state.unread) == {"n1"}
    assert scan.club is not None and scan.club.rank_code == "GOLD"
    statuses = await c.members.statuses(["al", "nobody"])
    assert statuses["nobody"][1] is None and statuses["al"][1] == scan.club
    assert set(statuses["al"][0].unread) == {"n1"}


async def test_read_state_changes_are_set_operations_and_never_unread_an_archived_entry(
    backend: Backend, clock: FakeClock
) -> None:
    c = backend.container
    now = clock.now()
    items = [notification(f"n{n}", visible_from=now - timedelta(hours=n)) for n in range(3)]
    for item in items:
        await publish(c.notifications, c.members, item, ["bob"], now)
    entries = await c.members.inbox_entries(
        "bob", [EntryRef(i.notification_id, i.visible_from or now) for i in items]
    )
    refs = {nid: EntryRef(nid, e.visible_from) for nid, e in entries.items()}
    markers = {nid: e.marker() for nid, e in entries.items()}

    read = ReadChange(read=(markers["n0"],), stamp_read=(refs["n0"],))
    await c.members.apply("bob", read, now)
    await c.members.apply("bob", read, now + timedelta(minutes=1))  # twice: as once
    archive = ReadChange(drop=(markers["n1"],), archive=(refs["n1"],))
    await c.members.apply("bob", archive, now)
    unread = ReadChange(unread=(markers["n1"], markers["n0"]), clear_read=(refs["n1"], refs["n0"]))
    await c.members.apply("bob", unread, now)
    await c.members.apply("bob", ReadChange(read_all=("news",)), now)

    state = await c.members.inbox_state("bob")
    assert set(state.unread) == {"n0", "n2"}  # the archived one stays out
    assert state.read_all_at == {"news": now}
    after = await c.members.inbox_entries("bob", list(refs.values()))
    assert after["n0"].read_at is None
    assert after["n1"].archived_at == now and after["n1"].read_at == now
    with pytest.raises(ValueError):
        await c.members.apply("bob", ReadChange(stamp_read=(refs["n2"],) * 100), now)


async def test_ledger_pages_go_newest_first(backend: Backend, clock: FakeClock) -> None:
    c = backend.container
    entries = [
        LedgerEntry(f"e{n}", PointEntryKind.EARNED, 10 + n, clock.now() - timedelta(days=n))
        for n in range(5)
    ]
    await c.ledger.put_ledger("carol", entries)
    seen: list[str] = []
    after = None
    while True:
        page = await c.members.ledger_page("carol", after, 2)
        seen += [e.entry_id for e in page.entries]
        if page.resume_after is None:
            break
        after = page.resume_after
    assert seen == ["e0", "e1", "e2", "e3", "e4"]
