"""Balance, expiry and qualifying points of the read model against a plain model, over random
ledgers (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.club_status import club_status
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
from core.domain.time import jst_month
from core.settings import PROJECT_ROOT

RANKS = RankTable.from_file(PROJECT_ROOT / "config" / "ranks.json")
START = datetime(2026, 1, 1, tzinfo=UTC)
IMPORTED_AT = datetime(2029, 6, 1, tzinfo=UTC)

steps = st.lists(
    st.tuples(
        st.sampled_from(["EARNED", "USED", "ADJUSTED"]),
        st.integers(1, 5_000),  # amount
        st.integers(1, 72),  # hours after the previous entry
        st.integers(24, 24 * 120),  # lifetime of an earned lot, hours
        st.booleans(),  # ADJUSTED up or down
    ),
    max_size=40,
)


def ledger(raw: list[tuple[str, int, int, int, bool]]) -> list[LedgerEntry]:
    entries, at = [], START
    for index, (kind, amount, gap, life, up) in enumerate(raw):
        at += timedelta(hours=gap)
        if kind == "EARNED":
            entries.append(
                LedgerEntry(
                    f"e{index}",
                    PointEntryKind.EARNED,
                    amount,
                    at,
                    expires_at=at + timedelta(hours=life),
                )
            )
        elif kind == "USED":
            entries.append(LedgerEntry(f"e{index}", PointEntryKind.USED, -amount, at))
        else:
            entries.append(
                LedgerEntry(f"e{index}", PointEntryKind.ADJUSTED, amount if up else -amount, at)
            )
    return entries


@dataclass
class Lot:
    expires_at: datetime
    amount: int
    lot_id: str


def model(
    entries: list[LedgerEntry], now: datetime
) -> tuple[int, dict[datetime, int], dict[str, int]]:
    """The plain rules: spend lots alive at the time, soonest expiry first, then go into debt."""
    lots: list[Lot] = []
    extra = 0
    used: dict[str, int] = {}
    for e in entries:
        if e.kind is PointEntryKind.EARNED:
            assert e.expires_at is not None
            lots.append(Lot(e.expires_at, e.amount, e.entry_id))
        elif e.amount < 0:
            need = -e.amount
            for lot in sorted(lots, key=lambda lot: (lot.expires_at, lot.lot_id)):
                if lot.expires_at > e.occurred_at and need:
                    take = min(need, lot.amount)
                    lot.amount -= take
                    need -= take
            extra -= need
            if e.kind is PointEntryKind.USED:
                month = jst_month(e.occurred_at)
                used[month] = used.get(month, 0) - e.amount
        else:
            extra += e.amount
    alive: dict[datetime, int] = {}
    for lot in lots:
        if lot.expires_at > now and lot.amount:
            alive[lot.expires_at] = alive.get(lot.expires_at, 0) + lot.amount
    return sum(alive.values()) + extra, alive, used


@given(steps, st.integers(0, 24 * 200))
def test_balance_expiry_and_qualifying_match_the_model(
    raw: list[tuple[str, int, int, int, bool]], hours: int
) -> None:
    entries = ledger(raw)
    record = ClubRecord(rank_code="REGULAR")
    for entry in entries:
        assert check_entry(entry) is None
        # Compacted after every entry on a clock years ahead: an old history imported one
        # entry a transaction must come out as if applied at once.
        record = compact(apply_entry(record, entry)[0], IMPORTED_AT)
    last = entries[-1].occurred_at if entries else START
    now = last + timedelta(hours=hours)
    balance, alive, used = model(entries, now)
    status = club_status(record, RANKS, now)
    assert status.balance == balance
    assert {e.expires_at: e.amount for e in status.expiring} == alive
    assert all(e.expires_at > now for e in status.expiring)
    month = jst_month(now)
    window = {m: v for m, v in used.items() if m in _months_back(month, 0, 5)}
    assert status.qualifying_points == sum(window.values())
    before = {m: v for m, v in used.items() if m in _months_back(month, 1, 6)}
    assert qualifying_for_evaluation(record, month) == sum(before.values())


def _months_back(month: str, first: int, last: int) -> set[str]:
    from core.domain.time import shift_month

    return {shift_month(month, -offset) for offset in range(first, last + 1)}


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (LedgerEntry("a", PointEntryKind.EARNED, 100, START), "EARNED needs expiresAt"),
        (LedgerEntry("a", PointEntryKind.EARNED, -5, START, expires_at=START), "positive"),
        (LedgerEntry("a", PointEntryKind.USED, 100, START), "negative"),
        (LedgerEntry("a", PointEntryKind.ADJUSTED, 0, START), "non-zero"),
        (LedgerEntry("a", PointEntryKind.USED, -1, START, expires_at=START), "only EARNED"),
    ],
)
def test_entries_that_cannot_be_applied_say_why(entry: LedgerEntry, problem: str) -> None:
    reason = check_entry(entry)
    assert reason is not None and problem in reason
