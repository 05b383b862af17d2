"""Point-club status rules: balance and expiry, qualifying window, ranks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.club_status import club_status, qualifying_months
from core.domain.pointclub import ClubRecord, Rank, RankTable
from core.domain.time import month_end
from core.domain.wallet import PointLot
from core.settings import PROJECT_ROOT

RANKS = RankTable.from_file(PROJECT_ROOT / "config" / "ranks.json")
NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # 12:00 JST on 29 November


def test_the_checked_in_rank_table_is_valid_and_ordered() -> None:
    assert [rank.code for rank in RANKS.ranks] == [
        "REGULAR",
        "BRONZE",
        "SILVER",
        "GOLD",
        "PLATINUM",
    ]
    assert RANKS.base.threshold == 0
    assert RANKS.for_points(4999).code == "BRONZE"
    assert RANKS.for_points(5000).code == "SILVER"
    assert RANKS.next_after(RANKS.get("PLATINUM")) is None


@pytest.mark.parametrize(
    "ranks",
    [
        [],
        [Rank("A", {}, 10, 0.1)],
        [Rank("A", {}, 0, 0.1), Rank("B", {}, 0, 0.2)],
        [Rank("A", {}, 0, 0.1), Rank("A", {}, 10, 0.2)],
        [Rank("A", {}, 0, 0.1), Rank("B", {}, 10, 0.2), Rank("C", {}, 10, 0.3)],
    ],
)
def test_a_broken_rank_table_is_refused(ranks: list[Rank]) -> None:
    with pytest.raises(ValueError):
        RankTable(ranks)


def test_rank_table_file_errors_surface(tmp_path: Path) -> None:
    broken = tmp_path / "ranks.json"
    broken.write_text('{"ranks": [{"code": "X", "names": {}, "threshold": 5, "pointBackRate": 0}]}')
    with pytest.raises(ValueError):
        RankTable.from_file(broken)


def test_status_leaves_out_expired_lots_before_any_job_runs() -> None:
    record = ClubRecord(
        lots=(
            PointLot("a", 100, NOW - timedelta(seconds=1)),
            PointLot("b", 200, NOW + timedelta(days=1)),
            PointLot("c", 300, NOW + timedelta(days=1)),
            PointLot("d", 400, NOW + timedelta(days=9)),
        ),
        used_by_month={"2026-11": 3000, "2026-06": 2500, "2026-05": 9999},
        rank_code="BRONZE",
        rank_month="2026-11",
    )
    status = club_status(record, RANKS, NOW)
    assert status.balance == 900
    assert [(e.amount, e.expires_at) for e in status.expiring] == [
        (500, NOW + timedelta(days=1)),
        (400, NOW + timedelta(days=9)),
    ]
    # June to November count; May is outside the six-month window.
    assert status.qualifying_points == 5500
    assert status.rank.code == "BRONZE" and status.next_rank is not None
    assert status.next_rank.code == "SILVER"
    assert status.points_to_next_rank == 0
    assert status.rank_valid_until == datetime(2026, 11, 30, 14, 59, 59, tzinfo=UTC)


def test_a_new_member_is_at_the_base_rank() -> None:
    status = club_status(None, RANKS, NOW)
    assert (status.balance, status.qualifying_points) == (0, 0)
    assert status.rank.code == "REGULAR"
    assert status.points_to_next_rank == 1000
    assert status.rank_valid_until == month_end("2026-11")


def test_the_top_rank_has_no_next_rank() -> None:
    status = club_status(ClubRecord(rank_code="PLATINUM", rank_month="2026-11"), RANKS, NOW)
    assert status.next_rank is None and status.points_to_next_rank is None


def test_the_window_follows_jst_months() -> None:
    # 2026-11-30 15:30 UTC is already 1 December in Japan.
    assert qualifying_months(datetime(2026, 11, 30, 15, 30, tzinfo=UTC))[0] == "2026-12"
    assert qualifying_months(NOW) == (
        "2026-11",
        "2026-10",
        "2026-09",
        "2026-08",
        "2026-07",
        "2026-06",
    )


@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(-100, 100)),
        max_size=30,
    )
)
def test_balance_is_the_sum_of_unexpired_lots(lots: list[tuple[int, int]]) -> None:
    record = ClubRecord(
        lots=tuple(
            PointLot(f"l{i}", amount, NOW + timedelta(hours=hours))
            for i, (amount, hours) in enumerate(lots)
        )
    )
    status = club_status(record, RANKS, NOW)
    assert status.balance == sum(amount for amount, hours in lots if hours > 0)
    assert sum(e.amount for e in status.expiring) == status.balance
    assert [e.expires_at for e in status.expiring] == sorted(e.expires_at for e in status.expiring)
