"""``LedgerStore``, ``ReadStats`` and ``SystemStore`` on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.domain.pointclub import ClubRecord, LedgerEntry, PointEntryKind
from core.domain.wallet import PointKind
from core.errors import Conflict
from core.ports import ReadChange
from tests.builders import notification, publish
from tests.contract.conftest import Backend
from tests.fakes import FakeClock


def earned(entry_id: str, clock: FakeClock, amount: int = 100) -> LedgerEntry:
    return LedgerEntry(entry_id, PointEntryKind.EARNED, amount, clock.now() - timedelta(days=1))


async def test_entries_are_written_once_with_the_club_record_at_its_version(
    backend: Backend, clock: FakeClock
) -> None:
    ledger = backend.container.ledger
    assert await ledger.club_for_update("alice") == (None, 0)
    record = ClubRecord(rank_code="GOLD", unexpiring={PointKind.FREE: 5, PointKind.PAID: 3})
    entries = [earned("e1", clock), earned("e2", clock)]
    assert await ledger.save("alice", entries, record, 0, "run-1", rank_was=None) == {}
    stored, version = await ledger.club_for_update("alice")
    assert (stored, version) == (record, 1)

    more = [earned("e2", clock), earned("e3", clock)]
    replay = await ledger.save("alice", more, record, 1, "r2", rank_was="GOLD")
    assert set(replay) == {"e2"} and replay["e2"].run_id == "run-1"
    assert replay["e2"].fingerprint == earned("e2", clock).fingerprint("alice")
    assert await ledger.club_for_update("alice") == (record, 1)  # nothing written
    page = await backend.container.members.ledger_page("alice", None, 10)
    assert sorted(e.entry_id for e in page.entries) == ["e1", "e2"]

    with pytest.raises(Conflict):  # read at an older version
        await ledger.save("alice", [earned("e3", clock)], record, 0, "run-3", rank_was=None)
    with pytest.raises(Conflict):
        await ledger.save_club("alice", record, 0, rank_was=None)
    assert await ledger.rank_counts() == {"GOLD": 1}
    await ledger.save_club("alice", ClubRecord(rank_code="SILVER"), 1, rank_was="GOLD")
    assert await ledger.club_for_update("alice") == (ClubRecord(rank_code="SILVER"), 2)
    assert {k: v for k, v in (await ledger.rank_counts()).items() if v} == {"SILVER": 1}


async def test_a_plain_club_write_keeps_or_replaces(backend: Backend) -> None:
    ledger = backend.container.ledger
    assert await ledger.put_club("bob", ClubRecord(rank_code="GOLD")) is True
    assert await ledger.put_club("bob", ClubRecord(), only_if_absent=True) is False
    assert (await backend.container.members.club("bob")) == ClubRecord(rank_code="GOLD")
    assert await ledger.put_club("bob", ClubRecord(rank_code="SILVER")) is True
    assert await ledger.put_club("carol", ClubRecord(rank_code="SILVER")) is True
    assert await ledger.put_club("dave", ClubRecord()) is True  # no rank: counted nowhere
    counts = {rank: n for rank, n in (await ledger.rank_counts()).items() if n}
    assert counts == {"SILVER": 2}


async def test_a_club_record_keeps_the_ranks_it_held(backend: Backend, clock: FakeClock) -> None:
    ledger = backend.container.ledger
    joined = clock.now() - timedelta(days=60)
    record = ClubRecord.joined("REGULAR", joined).with_rank("GOLD", clock.now())
    await ledger.put_club("erin", record)
    stored = await backend.container.members.club("erin")
    assert stored == record
    assert stored.rank_at(joined - timedelta(seconds=1)) is None  # before joining
    assert stored.rank_at(joined) == "REGULAR"
    assert stored.rank_at(clock.now()) == "GOLD"


async def test_reads_are_counted_once_per_member_and_notification(
    backend: Backend, clock: FakeClock
) -> None:
    c = backend.container
    item = notification("n1", visible_from=clock.now() - timedelta(hours=1))
    await publish(c.notifications, c.members, item, ["alice", "bob"], clock.now())
    for member in ("alice", "bob"):
        marker = (await c.members.inbox_state(member)).unread["n1"]
        await c.members.apply(member, ReadChange(read=(marker,)), clock.now())
    pending = {
        m
        for shard in c.read_stats.pending_shards()
        for m in await c.read_stats.members_with_pending_reads(shard)
    }
    assert pending == {"alice", "bob"}
    assert await c.read_stats.count_pending_reads("alice") == 1
    assert await c.read_stats.count_pending_reads("alice") == 0
    entry = await c.members.inbox_entry("alice", "n1", item.visible_from or clock.now())
    assert entry is not None
    await c.members.apply("alice", ReadChange(unread=(entry.marker(),)), clock.now())
    await c.members.apply("alice", ReadChange(read=(entry.marker(),)), clock.now())
    assert await c.read_stats.count_pending_reads("alice") == 0  # read again: counted once
    assert await c.read_stats.count_pending_reads("bob") == 1
    assert (await c.read_stats.read_counts(["n1", "n2"])) == {"n1": 2, "n2": 0}


async def test_the_demo_anchor_is_claimed_once(backend: Backend, clock: FakeClock) -> None:
    system = backend.container.system
    await system.ping()
    first = await system.claim_anchor(clock.now())
    assert await system.claim_anchor(clock.now() + timedelta(days=3)) == first
    assert await backend.container.system.create_table() is False  # there already
