"""Point-club rules: ranks, point lots and the status a member sees.

Qualifying points are the points *used* in a window of six JST calendar months. A rank is set by
the monthly evaluation and is valid until the end of that month; ``pointsToNextRank`` is live.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

from core.domain.audience import ID_CHARACTERS
from core.domain.ranks import Rank as Rank
from core.domain.ranks import RankTable as RankTable
from core.domain.time import ISO_KEY_PATTERN, iso_key, jst_month, shift_month
from core.domain.wallet import LotUse, PointKind, PointLot, UseOrder, take

QUALIFYING_WINDOW_MONTHS = 6


class PointEntryKind(StrEnum):
    EARNED = "EARNED"
    USED = "USED"
    EXPIRED = "EXPIRED"
    ADJUSTED = "ADJUSTED"


# Rank changes a club record keeps: two years of monthly evaluations. A broadcast for "members
# at its visibleFrom" asks which rank a member held then (``ClubRecord.rank_at``).
RANK_HISTORY = 24
ALL_ALONG = datetime(1970, 1, 1, tzinfo=UTC)  # the start of a period that was never recorded


@dataclass(frozen=True)
class RankPeriod:
    """From ``since`` on, the member held ``rank`` (until the next period)."""

    since: datetime
    rank: str


@dataclass(frozen=True)
class ClubRecord:
    """The point-club read model of one member, as the ledger import keeps it."""

    lots: tuple[PointLot, ...] = ()
    used_by_month: Mapping[str, int] = field(default_factory=dict)
    rank_code: str | None = None
    rank_month: str | None = None
    # Adjustments that belong to no lot, per kind (may go below zero: an overdraft).
    unexpiring: Mapping[PointKind, int] = field(default_factory=dict)
    previous_rank: str | None = None  # the rank before the evaluation of rank_month
    evaluation_run: str | None = None  # which evaluation run set rank_month (skips revisits)
    applied_until: datetime | None = None  # the latest occurredAt applied (compaction's bound)
    # Every rank the member held, oldest first, the last one the current rank; empty on records
    # written before the history was kept (their rank counts as held all along).
    rank_history: tuple[RankPeriod, ...] = ()

    @classmethod
    def joined(cls, rank: str, at: datetime) -> ClubRecord:
        """A new member's record: ``rank`` from ``at`` on."""
        return cls(rank_code=rank, rank_history=(RankPeriod(at, rank),))

    def with_rank(self, rank: str, at: datetime, **fields: object) -> ClubRecord:
        """This record holding ``rank`` from ``at`` on (a period starts only on a change). A
        record from before the history was kept held its rank all along."""
        history = self.rank_history
        if not history and self.rank_code is not None:
            history = (RankPeriod(ALL_ALONG, self.rank_code),)
        if rank != self.rank_code or not history:
            history = (*history, RankPeriod(max(at, history[-1].since) if history else at, rank))
            history = history[-RANK_HISTORY:]
        return replace(self, rank_code=rank, rank_history=history, **fields)  # type: ignore[arg-type]

    def rank_since(self) -> datetime:
        """When the member started holding the current rank (all along, if unrecorded)."""
        return self.rank_history[-1].since if self.rank_history else ALL_ALONG

    def rank_at(self, moment: datetime) -> str | None:
        """The rank held at ``moment``: None before the member joined (or before the oldest
        period kept)."""
        if not self.rank_history:
            return self.rank_code
        held = None
        for period in self.rank_history:
            if period.since > moment:
                break
            held = period.rank
        return held


# Entry ids: an imported one is a member-id-like name (up to 128); a mission reward's is
# ``mission-<missionId>-<userId>`` (up to 8 + 40 + 1 + 128).
ENTRY_ID = re.compile(rf"[A-Za-z0-9][{ID_CHARACTERS}]{{0,199}}")
LEDGER_POSITION_PATTERN = re.compile(rf"{ISO_KEY_PATTERN}#{ENTRY_ID.pattern}")


@dataclass(frozen=True)
class LedgerEntry:
    entry_id: str
    kind: PointEntryKind
    amount: int
    occurred_at: datetime
    description: str | None = None
    expires_at: datetime | None = None  # EARNED only: when the lot expires
    # EARNED and positive ADJUSTED: the kind they add (None: FREE); negative ADJUSTED: the only
    # kind it takes (None: by the use order), e.g. a refund of bought points.
    point_kind: PointKind | None = None
    available_at: datetime | None = None  # EARNED only: pending until then
    consumed: tuple[LotUse, ...] = ()  # USED and negative ADJUSTED: what they took, once applied

    @property
    def adds(self) -> bool:
        """EARNED and positive ADJUSTED: entries that add points of a kind."""
        return self.kind is PointEntryKind.EARNED or (
            self.kind is PointEntryKind.ADJUSTED and self.amount > 0
        )

    @property
    def added_kind(self) -> PointKind:
        """The kind an adding entry adds (none said: FREE)."""
        return self.point_kind or PointKind.FREE

    @property
    def position(self) -> str:
        return f"{iso_key(self.occurred_at)}#{self.entry_id}"

    def fingerprint(self, user_id: str) -> str:
        """What the line said, to tell a replay of it from a changed line with the same id."""
        expires = None if self.expires_at is None else iso_key(self.expires_at)
        said = [user_id, self.kind.value, self.amount, iso_key(self.occurred_at), expires]
        said.append(self.description)
        # Fields added later say something only when set: a line of an older file, imported
        # again, keeps the fingerprint it was claimed with.
        if self.point_kind is not None:
            said.append(self.point_kind.value)
        if self.available_at is not None:
            said.append(f"availableAt={iso_key(self.available_at)}")
        digest = hashlib.sha256(json.dumps(said, ensure_ascii=False).encode())
        return digest.hexdigest()[:32]


@dataclass(frozen=True)
class EntryClaim:
    """Who holds an entry id: what their line said, and which import run wrote it."""

    fingerprint: str
    run_id: str


# Months of use kept in the read model: the window plus the month being evaluated.
USED_MONTHS_KEPT = QUALIFYING_WINDOW_MONTHS + 1


# Times a ledger can hold: anything else is a typo or an attack, and would distort the read model.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def check_entry(entry: LedgerEntry) -> str | None:
    """Why an entry cannot be applied, or None. Signs: EARNED > 0; USED, EXPIRED < 0."""
    moments = (
        ("occurredAt", entry.occurred_at),
        ("expiresAt", entry.expires_at),
        ("availableAt", entry.available_at),
    )
    for name, moment in moments:
        if moment is not None and not EARLIEST <= moment < LATEST:
            return f"{name} must be between 2000 and 2100"
    if entry.kind is PointEntryKind.EARNED:
        if entry.amount <= 0:
            return "EARNED needs a positive amount"
        if entry.expires_at is None:
            return "EARNED needs expiresAt"
        if entry.expires_at <= entry.occurred_at:
            return "expiresAt must be after occurredAt"
        if entry.available_at is not None and not (
            entry.occurred_at <= entry.available_at < entry.expires_at
        ):
            return "availableAt must be from occurredAt on and before expiresAt"
    elif entry.kind in (PointEntryKind.USED, PointEntryKind.EXPIRED):
        if entry.amount >= 0:
            return f"{entry.kind.value} needs a negative amount"
    elif entry.amount == 0:
        return "ADJUSTED needs a non-zero amount"
    if entry.kind is not PointEntryKind.EARNED and entry.expires_at is not None:
        return "only EARNED entries expire"
    if entry.kind is not PointEntryKind.EARNED and entry.available_at is not None:
        return "only EARNED entries are pending"
    if entry.kind in (PointEntryKind.USED, PointEntryKind.EXPIRED) and entry.point_kind:
        return "pointKind is for EARNED and ADJUSTED entries (a use takes by the order)"
    return None


def apply_entry(
    record: ClubRecord, entry: LedgerEntry, order: UseOrder = UseOrder.FREE_FIRST
) -> tuple[ClubRecord, LedgerEntry]:
    """The read model after one ledger entry, applied in the order the ledger gives, and the
    entry as written (a use with what it consumed).

    EARNED adds a lot of its kind, pending until its ``availableAt``. USED takes from the
    points spendable at that moment in ``order`` (``core.domain.wallet.take``) and counts toward
    qualifying points in its JST month. EXPIRED only records history: a lot leaves the balance
    by its own expiry date, even before any job runs. ADJUSTED adds unexpiring points of its
    kind, or takes them like USED without counting toward rank.
    """
    lots = record.lots
    unexpiring = dict(record.unexpiring)
    used = dict(record.used_by_month)
    if entry.kind is PointEntryKind.EARNED:
        assert entry.expires_at is not None
        lot = PointLot(
            entry.entry_id,
            entry.amount,
            entry.expires_at,
            entry.added_kind,
            entry.available_at,
        )
        lots = (*lots, lot)
    elif entry.kind is PointEntryKind.USED or (
        entry.kind is PointEntryKind.ADJUSTED and entry.amount < 0
    ):
        only = entry.point_kind if entry.kind is PointEntryKind.ADJUSTED else None
        lots, unexpiring, consumed = take(
            lots, unexpiring, -entry.amount, entry.occurred_at, order, only=only
        )
        entry = replace(entry, consumed=consumed)
        if entry.kind is PointEntryKind.USED:
            month = jst_month(entry.occurred_at)
            used[month] = used.get(month, 0) - entry.amount
    elif entry.kind is PointEntryKind.ADJUSTED:
        unexpiring[entry.added_kind] = unexpiring.get(entry.added_kind, 0) + entry.amount
    until = record.applied_until
    updated = replace(
        record,
        lots=tuple(lot for lot in lots if lot.amount > 0),
        used_by_month=used,
        unexpiring={kind: amount for kind, amount in unexpiring.items() if amount},
        applied_until=entry.occurred_at if until is None else max(until, entry.occurred_at),
    )
    return updated, entry


def compact(record: ClubRecord, now: datetime) -> ClubRecord:
    """The read model without what no status, evaluation or later entry can need: lots expired
    and months used before the evaluation window. Measured from the earlier of the clock and the
    latest entry applied: an entry dated far ahead cannot drop what counts today, and a history
    imported in order keeps the lots its next entries take from."""
    until = record.applied_until or now
    oldest_kept = shift_month(jst_month(min(now, until)), -USED_MONTHS_KEPT)
    return replace(
        record,
        lots=tuple(lot for lot in record.lots if jst_month(lot.expires_at) >= oldest_kept),
        used_by_month={m: v for m, v in record.used_by_month.items() if m > oldest_kept},
    )


def qualifying_for_evaluation(record: ClubRecord | None, month: str) -> int:
    """Points used in the six JST months before ``month``: what the evaluation of ``month`` uses."""
    if record is None:
        return 0
    window = [shift_month(month, -offset) for offset in range(1, QUALIFYING_WINDOW_MONTHS + 1)]
    return sum(record.used_by_month.get(m, 0) for m in window)
