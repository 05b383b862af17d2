"""The status a member sees, read from the club record at one moment with no job having run:
the wallet by kind, pending and expiring points, the rank and the outlook for the next
evaluation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from core.domain.pointclub import (
    QUALIFYING_WINDOW_MONTHS,
    ClubRecord,
    Rank,
    RankTable,
    qualifying_for_evaluation,
)
from core.domain.time import jst_month, month_end, shift_month
from core.domain.wallet import PointKind, PointLot, wallet_at


@dataclass(frozen=True)
class PointExpiry:
    amount: int
    expires_at: datetime


@dataclass(frozen=True)
class RankOutlook:
    """Where the next evaluation (at ``keep_rank_by``) puts the member if nothing else happens,
    and how many more qualifying points before then keep the current rank."""

    projected_rank: Rank
    points_to_keep_rank: int
    keep_rank_by: datetime


@dataclass(frozen=True)
class ClubStatus:
    balance: int
    balance_by_kind: Mapping[PointKind, int]
    expiring: tuple[PointExpiry, ...]
    expiring_by_kind: Mapping[PointKind, tuple[PointExpiry, ...]]
    pending: tuple[PointExpiry, ...]  # amount by availableAt (``expires_at`` holds that moment)
    rank: Rank
    next_rank: Rank | None
    qualifying_points: int
    points_to_next_rank: int | None
    rank_valid_until: datetime
    outlook: RankOutlook

    @property
    def next_expiry(self) -> PointExpiry | None:
        return self.expiring[0] if self.expiring else None


def qualifying_months(now: datetime) -> tuple[str, ...]:
    """The six JST months whose use counts toward the next evaluation: this one and five before."""
    current = jst_month(now)
    return tuple(shift_month(current, -offset) for offset in range(QUALIFYING_WINDOW_MONTHS))


def club_status(record: ClubRecord | None, ranks: RankTable, now: datetime) -> ClubStatus:
    """What a member sees now, read at ``now`` with no job having run: expired lots are left
    out, pending ones are apart until their ``available_at``."""
    record = record or ClubRecord()
    wallet = wallet_at(record.lots, record.unexpiring, now)
    qualifying = sum(record.used_by_month.get(month, 0) for month in qualifying_months(now))
    rank = ranks.get(record.rank_code) if record.rank_code else ranks.base
    next_rank = ranks.next_after(rank)
    valid_month = record.rank_month or jst_month(now)
    return ClubStatus(
        balance=wallet.balance,
        balance_by_kind=wallet.spendable,
        expiring=_amounts(wallet.expiring, lambda lot: lot.expires_at),
        expiring_by_kind={
            kind: _amounts(
                (lot for lot in wallet.expiring if lot.kind is kind), lambda lot: lot.expires_at
            )
            for kind in PointKind
        },
        pending=_amounts(wallet.pending, lambda lot: lot.available_at or lot.expires_at),
        rank=rank,
        next_rank=next_rank,
        qualifying_points=qualifying,
        points_to_next_rank=None if next_rank is None else max(0, next_rank.threshold - qualifying),
        rank_valid_until=month_end(valid_month),
        outlook=rank_outlook(record, ranks, now),
    )


def next_evaluation(record: ClubRecord | None, now: datetime) -> str:
    """The month whose ``ranks evaluate`` next reaches this member: this JST month's while the
    member was last evaluated for an earlier month (the job of the 1st has not run, or not
    reached them yet), else next month's."""
    current = jst_month(now)
    if record is not None and record.rank_month is not None and record.rank_month < current:
        return current
    return shift_month(current, 1)


def rank_outlook(record: ClubRecord | None, ranks: RankTable, now: datetime) -> RankOutlook:
    """The next evaluation as ``ranks evaluate`` will run it on this record (the same window,
    the same table, the same skip of a month already evaluated), and what keeps the rank held
    at the evaluation whose window is still open (next month's)."""
    held = ranks.get(record.rank_code) if record and record.rank_code else ranks.base
    month = next_evaluation(record, now)
    if record is not None and record.rank_month is not None and record.rank_month >= month:
        projected = held  # evaluated for that month already: the job leaves the rank alone
    else:
        projected = ranks.for_points(qualifying_for_evaluation(record, month))
    open_window = shift_month(jst_month(now), 1)
    return RankOutlook(
        projected_rank=projected,
        points_to_keep_rank=max(0, held.threshold - qualifying_for_evaluation(record, open_window)),
        keep_rank_by=month_end(jst_month(now)),
    )


def _amounts(
    lots: Iterable[PointLot], moment: Callable[[PointLot], datetime]
) -> tuple[PointExpiry, ...]:
    by_moment: dict[datetime, int] = defaultdict(int)
    for lot in lots:
        by_moment[moment(lot)] += lot.amount
    return tuple(PointExpiry(amount, at) for at, amount in sorted(by_moment.items()))
