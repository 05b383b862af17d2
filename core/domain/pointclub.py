"""Point-club rules: ranks, point lots and the status a member sees.

Qualifying points are the points *used* in a window of six JST calendar months. A rank is set by
the monthly evaluation and is valid until the end of that month; ``pointsToNextRank`` is live.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from core.domain.time import iso_key, jst_month, month_end, shift_month

QUALIFYING_WINDOW_MONTHS = 6


class PointEntryKind(StrEnum):
    EARNED = "EARNED"
    USED = "USED"
    EXPIRED = "EXPIRED"
    ADJUSTED = "ADJUSTED"


@dataclass(frozen=True)
class Rank:
    code: str
    names: Mapping[str, str]
    threshold: int
    point_back_rate: float

    def name_for(self, locales: tuple[str, ...], fallback: str) -> str:
        for locale in (*locales, fallback):
            for candidate in (locale, locale.split("-")[0]):
                if candidate in self.names:
                    return self.names[candidate]
        return self.code


class RankTable:
    """The configured ranks, lowest first; validated once at start."""

    def __init__(self, ranks: Sequence[Rank]) -> None:
        if not ranks:
            raise ValueError("rank table is empty")
        ordered = sorted(ranks, key=lambda rank: rank.threshold)
        if ordered[0].threshold != 0 or sum(1 for rank in ordered if rank.threshold == 0) != 1:
            raise ValueError("rank table needs exactly one rank with threshold 0")
        thresholds = [rank.threshold for rank in ordered]
        if len(set(thresholds)) != len(thresholds):
            raise ValueError("rank thresholds must be distinct")
        codes = [rank.code for rank in ordered]
        if len(set(codes)) != len(codes):
            raise ValueError("rank codes must be unique")
        self.ranks: tuple[Rank, ...] = tuple(ordered)
        self._by_code = {rank.code: rank for rank in ordered}

    @classmethod
    def from_file(cls, path: Path) -> RankTable:
        document = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            [
                Rank(
                    code=item["code"],
                    names=dict(item["names"]),
                    threshold=int(item["threshold"]),
                    point_back_rate=float(item["pointBackRate"]),
                )
                for item in document["ranks"]
            ]
        )

    @property
    def base(self) -> Rank:
        return self.ranks[0]

    def get(self, code: str) -> Rank:
        return self._by_code.get(code, self.base)

    def for_points(self, qualifying: int) -> Rank:
        reached = [rank for rank in self.ranks if rank.threshold <= qualifying]
        return reached[-1]

    def next_after(self, rank: Rank) -> Rank | None:
        index = self.ranks.index(self.get(rank.code))
        return self.ranks[index + 1] if index + 1 < len(self.ranks) else None


@dataclass(frozen=True)
class PointLot:
    """Points earned together that expire together; ``amount`` is what is left of them."""

    lot_id: str
    amount: int
    expires_at: datetime


@dataclass(frozen=True)
class ClubRecord:
    """The point-club read model of one member, as the ledger import keeps it."""

    lots: tuple[PointLot, ...] = ()
    used_by_month: Mapping[str, int] = field(default_factory=dict)
    rank_code: str | None = None
    rank_month: str | None = None
    unexpiring_balance: int = 0  # adjustments that belong to no lot


@dataclass(frozen=True)
class PointExpiry:
    amount: int
    expires_at: datetime


@dataclass(frozen=True)
class ClubStatus:
    balance: int
    expiring: tuple[PointExpiry, ...]
    rank: Rank
    next_rank: Rank | None
    qualifying_points: int
    points_to_next_rank: int | None
    rank_valid_until: datetime


def qualifying_months(now: datetime) -> tuple[str, ...]:
    """The six JST months whose use counts toward the next evaluation: this one and five before."""
    current = jst_month(now)
    return tuple(shift_month(current, -offset) for offset in range(QUALIFYING_WINDOW_MONTHS))


def club_status(record: ClubRecord | None, ranks: RankTable, now: datetime) -> ClubStatus:
    """What a member sees now; expired lots are left out even before any job has run."""
    record = record or ClubRecord()
    live = [lot for lot in record.lots if lot.expires_at > now and lot.amount > 0]
    by_expiry: dict[datetime, int] = defaultdict(int)
    for lot in live:
        by_expiry[lot.expires_at] += lot.amount
    expiring = tuple(PointExpiry(amount, moment) for moment, amount in sorted(by_expiry.items()))
    qualifying = sum(record.used_by_month.get(month, 0) for month in qualifying_months(now))
    rank = ranks.get(record.rank_code) if record.rank_code else ranks.base
    next_rank = ranks.next_after(rank)
    valid_month = record.rank_month or jst_month(now)
    return ClubStatus(
        balance=sum(lot.amount for lot in live) + record.unexpiring_balance,
        expiring=expiring,
        rank=rank,
        next_rank=next_rank,
        qualifying_points=qualifying,
        points_to_next_rank=None if next_rank is None else max(0, next_rank.threshold - qualifying),
        rank_valid_until=month_end(valid_month),
    )


LEDGER_POSITION_PATTERN = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#[0-9A-Za-z_.:-]{1,128}"
)


@dataclass(frozen=True)
class LedgerEntry:
    entry_id: str
    kind: PointEntryKind
    amount: int
    occurred_at: datetime
    description: str | None = None

    @property
    def position(self) -> str:
        return f"{iso_key(self.occurred_at)}#{self.entry_id}"
