"""The wallet by kind over random ledgers (hypothesis), against a plain model written apart:
which lots a use consumes in each order, pending points at read time, the balance per kind; and
the rank outlook against what `ranks evaluate` then does with the same ledger."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.domain.club_status import club_status, rank_outlook
from core.domain.pointclub import (
    ClubRecord,
    LedgerEntry,
    PointEntryKind,
    RankTable,
    apply_entry,
    check_entry,
    compact,
    qualifying_for_evaluation,
)
from core.domain.time import jst_month, month_end, month_start, shift_month
from core.domain.wallet import LotUse, PointKind, UseOrder
from core.settings import PROJECT_ROOT
from tests.fakes import FakeClock, World, fake_container

RANKS = RankTable.from_file(PROJECT_ROOT / "config" / "ranks.json")
START = datetime(2026, 1, 1, tzinfo=UTC)
T = START + timedelta(days=10)

kinds = st.sampled_from([PointKind.FREE, PointKind.PAID])
steps = st.lists(
    st.one_of(
        # EARNED: amount, hours after the previous entry, lifetime, pending for, kind
        st.tuples(
            st.just("EARNED"),
            st.integers(1, 5_000),
            st.integers(0, 72),
            st.integers(24, 24 * 120),
            st.sampled_from([0, 0, 24, 24 * 30]),
            kinds,
        ),
        st.tuples(st.just("USED"), st.integers(1, 8_000), st.integers(0, 72)),
        st.tuples(
            st.just("ADJUSTED"),
            st.integers(-3_000, 3_000),
            st.integers(0, 72),
            st.sampled_from([None, PointKind.FREE, PointKind.PAID]),
        ),
    ),
    max_size=40,
)


def ledger(raw: list[tuple[Any, ...]]) -> list[LedgerEntry]:
    entries, at = [], START
    for index, step in enumerate(raw):
        kind, amount, gap = step[0], step[1], step[2]
        at += timedelta(hours=gap)
        entry_id = f"e{index:03d}"
        if kind == "EARNED":
            life, pending, point_kind = step[3], step[4], step[5]
            available = at + timedelta(hours=pending) if pending else None
            if available is not None and available >= at + timedelta(hours=life):
                available = None
            entries.append(
                LedgerEntry(
                    entry_id,
                    PointEntryKind.EARNED,
                    amount,
                    at,
                    expires_at=at + timedelta(hours=life),
                    point_kind=point_kind,
                    available_at=available,
                )
            )
        elif kind == "USED":
            entries.append(LedgerEntry(entry_id, PointEntryKind.USED, -amount, at))
        elif amount != 0:
            # Up: the kind it adds (None: FREE). Down: the only kind it takes (None: any).
            point_kind = step[3]
            entries.append(
                LedgerEntry(entry_id, PointEntryKind.ADJUSTED, amount, at, point_kind=point_kind)
            )
    return entries


@dataclass
class Lot:
    lot_id: str
    kind: PointKind
    amount: int
    expires_at: datetime
    available_at: datetime


def model(entries: list[LedgerEntry], order: UseOrder, now: datetime) -> dict[str, object]:
    """The rules in the plainest words: a lot is spendable from availableAt until expiresAt; a use
    takes the sources in the order's sequence; what none covers is a free-point overdraft."""
    lots: list[Lot] = []
    unexpiring = {PointKind.FREE: 0, PointKind.PAID: 0}
    took: dict[str, list[tuple[str | None, PointKind, int]]] = {}
    first, second = (
        (PointKind.PAID, PointKind.FREE)
        if order is UseOrder.PAID_FIRST
        else (PointKind.FREE, PointKind.PAID)
    )
    far = datetime(9999, 1, 1, tzinfo=UTC)

    def rank(source: Lot) -> tuple[Any, ...]:
        kind_first = 0 if source.kind is first else 1
        if order is UseOrder.SOONEST_EXPIRY:
            return (source.expires_at, kind_first, source.lot_id)
        return (kind_first, source.expires_at, source.lot_id)

    for e in entries:
        if e.kind is PointEntryKind.EARNED:
            assert e.expires_at is not None
            lots.append(
                Lot(
                    e.entry_id,
                    e.point_kind or PointKind.FREE,
                    e.amount,
                    e.expires_at,
                    e.available_at or e.occurred_at,
                )
            )
        elif e.amount > 0:
            unexpiring[e.point_kind or PointKind.FREE] += e.amount
        else:
            need, taken = -e.amount, []
            sources = [
                lot
                for lot in lots
                if lot.available_at <= e.occurred_at < lot.expires_at and lot.amount
            ]
            sources += [Lot("", k, unexpiring[k], far, START) for k in (first, second)]
            only = e.point_kind if e.kind is PointEntryKind.ADJUSTED else None
            sources = [source for source in sources if only is None or source.kind is only]
            for source in sorted(sources, key=rank):
                part = min(need, source.amount)
                if part <= 0:
                    continue
                need -= part
                if source.lot_id:
                    source.amount -= part
                else:
                    unexpiring[source.kind] -= part
                taken.append((source.lot_id or None, source.kind, part))
            if need:
                unexpiring[only or PointKind.FREE] -= need
                taken.append((None, only or PointKind.FREE, need))
            took[e.entry_id] = taken
    spendable = dict(unexpiring)
    pending: dict[datetime, int] = {}
    for lot in lots:
        if lot.amount and lot.available_at <= now < lot.expires_at:
            spendable[lot.kind] += lot.amount
        elif lot.amount and now < lot.available_at:
            pending[lot.available_at] = pending.get(lot.available_at, 0) + lot.amount
    return {"spendable": spendable, "pending": pending, "took": took}


@given(steps, st.sampled_from(list(UseOrder)), st.integers(0, 24 * 200))
def test_balance_by_kind_pending_and_consumption_match_the_model(
    raw: list[tuple[Any, ...]], order: UseOrder, hours: int
) -> None:
    entries = ledger(raw)
    record = ClubRecord(rank_code="REGULAR")
    written = []
    for entry in entries:
        assert check_entry(entry) is None, entry
        record, applied = apply_entry(record, entry, order)
        written.append(applied)
    now = (entries[-1].occurred_at if entries else START) + timedelta(hours=hours)
    expected = model(entries, order, now)
    status = club_status(compact(record, now), RANKS, now)
    assert dict(status.balance_by_kind) == expected["spendable"]
    assert status.balance == sum(status.balance_by_kind.values())
    assert {p.expires_at: p.amount for p in status.pending} == expected["pending"]
    took = {
        e.entry_id: [(u.lot_id, u.kind, u.amount) for u in e.consumed]
        for e in written
        if e.amount < 0
    }
    assert took == expected["took"]
    for e in written:
        assert sum(u.amount for u in e.consumed) == max(0, -e.amount)
    for kind in PointKind:
        assert all(x.expires_at > now for x in status.expiring_by_kind[kind])
    assert sum(x.amount for x in status.expiring) == sum(
        x.amount for kind in PointKind for x in status.expiring_by_kind[kind]
    )


def earned(entry_id: str, amount: int, days: int, kind: PointKind, **more: object) -> LedgerEntry:
    return LedgerEntry(
        entry_id,
        PointEntryKind.EARNED,
        amount,
        START,
        expires_at=START + timedelta(days=days),
        point_kind=kind,
        **more,  # type: ignore[arg-type]
    )


def use(amount: int, at: datetime = T) -> LedgerEntry:
    return LedgerEntry("u", PointEntryKind.USED, -amount, at)


def consume(order: UseOrder, *entries: LedgerEntry) -> tuple[LotUse, ...]:
    record = ClubRecord()
    for entry in entries[:-1]:
        record, _ = apply_entry(record, entry, order)
    return apply_entry(record, entries[-1], order)[1].consumed


def test_free_points_go_first_by_default_even_when_paid_ones_expire_sooner() -> None:
    paid = earned("paid", 100, 20, PointKind.PAID)
    free = earned("free", 100, 300, PointKind.FREE)
    assert [(u.lot_id, u.amount) for u in consume(UseOrder.FREE_FIRST, paid, free, use(150))] == [
        ("free", 100),
        ("paid", 50),
    ]
    assert [(u.lot_id, u.amount) for u in consume(UseOrder.PAID_FIRST, paid, free, use(150))] == [
        ("paid", 100),
        ("free", 50),
    ]
    soonest = consume(UseOrder.SOONEST_EXPIRY, paid, free, use(150))
    assert [(u.lot_id, u.amount) for u in soonest] == [("paid", 100), ("free", 50)]


def test_pending_points_are_spendable_from_their_moment_on_with_no_job() -> None:
    available = START + timedelta(days=31)
    grant = earned("pointback", 500, 120, PointKind.FREE, available_at=available)
    record, _ = apply_entry(ClubRecord(), grant)
    before = club_status(record, RANKS, available - timedelta(milliseconds=1))
    after = club_status(record, RANKS, available)
    assert (before.balance, [(p.amount, p.expires_at) for p in before.pending]) == (
        0,
        [(500, available)],
    )
    assert (after.balance, after.pending, after.next_expiry) == (
        500,
        (),
        after.expiring[0],
    )
    # A use before the moment cannot take them: it overdraws instead.
    record, used = apply_entry(record, use(200, available - timedelta(days=1)))
    assert used.consumed == (LotUse(None, PointKind.FREE, 200),)
    assert club_status(record, RANKS, available).balance == 300


def test_a_refund_of_bought_points_takes_only_paid_ones() -> None:
    paid = earned("paid", 100, 20, PointKind.PAID)
    free = earned("free", 100, 300, PointKind.FREE)
    refund = LedgerEntry("r", PointEntryKind.ADJUSTED, -150, T, point_kind=PointKind.PAID)
    assert consume(UseOrder.FREE_FIRST, paid, free, refund) == (
        LotUse("paid", PointKind.PAID, 100, paid.expires_at),
        LotUse(None, PointKind.PAID, 50),  # more than was bought: a paid overdraft
    )


def test_a_pointkind_is_not_for_uses_and_availableat_only_for_what_is_earned() -> None:
    bad = LedgerEntry("x", PointEntryKind.USED, -5, T, point_kind=PointKind.PAID)
    assert "pointKind" in (check_entry(bad) or "")
    late = earned("y", 5, 10, PointKind.FREE, available_at=START + timedelta(days=10))
    assert "availableAt" in (check_entry(late) or "")


def test_old_lines_keep_their_fingerprint() -> None:
    line = LedgerEntry("e", PointEntryKind.EARNED, 5, T, expires_at=T + timedelta(days=1))
    paid = replace(line, point_kind=PointKind.PAID)
    pending = replace(line, available_at=T + timedelta(hours=1))
    assert len({x.fingerprint("alice") for x in (line, paid, pending)}) == 3
    # The digest of a pre-kinds line, computed before kinds existed (commit 0578ecd).
    assert line.fingerprint("alice") == "195ee1eaa0a4f6e196d0532f6e4444d4"


uses = st.lists(
    st.tuples(st.integers(0, 200), st.integers(1, 40_000)),  # (days after START, points)
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(
    uses,
    st.integers(0, 240 * 24 * 4),  # quarter hours after START: JST's small hours included
    st.sampled_from([None, "SILVER", "GOLD", "PLATINUM"]),
    st.sampled_from([None, -1, 0, 1]),  # last evaluated for: never, last, this, next month
)
def test_the_outlook_is_what_ranks_evaluate_then_gives(
    used: list[tuple[int, int]], quarters: int, held: str | None, evaluated: int | None
) -> None:
    """Import a ledger, read the outlook at some moment, then run the evaluation that reaches
    the member next as the monthly job does (this month's if the member was last evaluated for
    an earlier month, else next month's, from its start): the rank it sets is the projected one.
    And using ``pointsToKeepRank`` more by ``keepRankBy`` keeps the rank held at the evaluation
    whose window is open."""
    lot = earned("lot", 10**9 // 2, 400, PointKind.PAID)
    entries = [lot] + [
        LedgerEntry(f"u{i}", PointEntryKind.USED, -points, START + timedelta(days=day, hours=1))
        for i, (day, points) in enumerate(sorted(used))
    ]
    now = START + timedelta(minutes=15 * quarters)
    current = jst_month(now)
    record = ClubRecord.joined(held or "REGULAR", START)
    if evaluated is not None:
        record = replace(record, rank_month=shift_month(current, evaluated))
    for entry in entries:
        record, _ = apply_entry(record, entry)
    outlook = rank_outlook(record, RANKS, now)
    assert outlook.keep_rank_by == month_end(current)
    assert club_status(record, RANKS, now).outlook == outlook

    month = current if evaluated == -1 else shift_month(current, 1)
    world = World()
    world.clubs["alice"] = record
    clock = FakeClock(max(now, month_start(month)))
    asyncio.run(fake_container(clock=clock, world=world).evaluate_ranks().run(month, notify=False))
    assert world.clubs["alice"].rank_code == outlook.projected_rank.code

    held_rank = RANKS.get(held or "REGULAR")
    open_window = shift_month(current, 1)

    def reached(club: ClubRecord) -> int:
        return RANKS.for_points(qualifying_for_evaluation(club, open_window)).threshold

    if outlook.points_to_keep_rank:
        assert reached(record) < held_rank.threshold
        top_up = LedgerEntry(
            "top-up", PointEntryKind.USED, -outlook.points_to_keep_rank, outlook.keep_rank_by
        )
        assert reached(apply_entry(record, top_up)[0]) >= held_rank.threshold
        less = replace(top_up, amount=top_up.amount + 1)
        assert reached(apply_entry(record, less)[0]) < held_rank.threshold
    else:
        assert reached(record) >= held_rank.threshold
