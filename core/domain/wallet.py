"""The wallet: point lots by kind (paid, free), when each can be spent, and the order a use
takes them in.

A lot is points earned together: of one kind, spendable from ``available_at`` (pending before,
e.g. a campaign's point-back granted next month) until ``expires_at``. Points adjusted in with
no lot never expire ("unexpiring", kept per kind). A use takes from what is spendable at its
moment in the configured ``UseOrder``; what no source covers is an overdraft, charged to free
points (as before kinds existed), so the balance per kind always adds up to the balance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class PointKind(StrEnum):
    PAID = "PAID"  # bought
    FREE = "FREE"  # granted: campaigns, bonuses, point-back, mission rewards


class UseOrder(StrEnum):
    """Which points a use takes first. Within a kind, the soonest expiry first and unexpiring
    points last; between equal sources, the lower lot id."""

    FREE_FIRST = "FREE_FIRST"  # free points before paid ones (the default)
    PAID_FIRST = "PAID_FIRST"
    SOONEST_EXPIRY = "SOONEST_EXPIRY"  # whatever expires first, free before paid on a tie

    @property
    def kinds(self) -> tuple[PointKind, PointKind]:
        if self is UseOrder.PAID_FIRST:
            return (PointKind.PAID, PointKind.FREE)
        return (PointKind.FREE, PointKind.PAID)


@dataclass(frozen=True)
class PointLot:
    """Points earned together that expire together; ``amount`` is what is left of them."""

    lot_id: str
    amount: int
    expires_at: datetime
    kind: PointKind = PointKind.FREE
    available_at: datetime | None = None  # pending until then; None: spendable when earned

    def spendable_at(self, moment: datetime) -> bool:
        available = self.available_at is None or self.available_at <= moment
        return available and moment < self.expires_at and self.amount > 0

    def pending_at(self, moment: datetime) -> bool:
        return self.available_at is not None and moment < self.available_at and self.amount > 0


@dataclass(frozen=True)
class LotUse:
    """What one use took from one source: a lot (its id is the EARNED entry's), or the kind's
    unexpiring points (``lot_id`` None, ``expires_at`` None), or an overdraft (also None)."""

    lot_id: str | None
    kind: PointKind
    amount: int
    expires_at: datetime | None = None


def _key(
    order: UseOrder, kind: PointKind, expires_at: datetime | None, lot_id: str
) -> tuple[Any, ...]:
    kind_rank = order.kinds.index(kind)
    never = expires_at is None
    if order is UseOrder.SOONEST_EXPIRY:
        return (never, expires_at or datetime.max, kind_rank, lot_id)
    return (kind_rank, never, expires_at or datetime.max, lot_id)


def take(
    lots: Iterable[PointLot],
    unexpiring: Mapping[PointKind, int],
    amount: int,
    at: datetime,
    order: UseOrder,
    *,
    only: PointKind | None = None,
) -> tuple[tuple[PointLot, ...], dict[PointKind, int], tuple[LotUse, ...]]:
    """Take ``amount`` points spendable at ``at`` (of kind ``only``, if given): the lots left,
    unexpiring points left per kind, and what was taken from where, in the order taken. What
    nothing covers is an overdraft of free points (of ``only``, if given)."""
    kept = list(lots)
    left = {kind: unexpiring.get(kind, 0) for kind in PointKind}
    sources: list[tuple[tuple[Any, ...], int | PointKind]] = [
        (_key(order, lot.kind, lot.expires_at, lot.lot_id), index)
        for index, lot in enumerate(kept)
        if lot.spendable_at(at) and only in (None, lot.kind)
    ]
    sources += [
        (_key(order, kind, None, ""), kind)
        for kind in PointKind
        if left[kind] > 0 and only in (None, kind)
    ]
    uses: list[LotUse] = []
    for _, source in sorted(sources, key=lambda pair: pair[0]):
        if amount == 0:
            break
        if isinstance(source, PointKind):
            taken = min(amount, left[source])
            left[source] -= taken
            uses.append(LotUse(None, source, taken))
        else:
            lot = kept[source]
            taken = min(amount, lot.amount)
            kept[source] = replace(lot, amount=lot.amount - taken)
            uses.append(LotUse(lot.lot_id, lot.kind, taken, lot.expires_at))
        amount -= taken
    if amount > 0:
        debtor = only or PointKind.FREE
        left[debtor] -= amount
        uses.append(LotUse(None, debtor, amount))
    return tuple(lot for lot in kept if lot.amount > 0), left, tuple(uses)


@dataclass(frozen=True)
class WalletView:
    """The wallet at one moment: spendable per kind, pending and expiring lots."""

    spendable: Mapping[PointKind, int]
    pending: tuple[PointLot, ...]  # soonest available first
    expiring: tuple[PointLot, ...]  # spendable lots, soonest expiry first

    @property
    def balance(self) -> int:
        return sum(self.spendable.values())


def wallet_at(
    lots: Iterable[PointLot], unexpiring: Mapping[PointKind, int], now: datetime
) -> WalletView:
    """What can be spent at ``now``, read from the lots with no job having run: a lot past its
    ``expires_at`` is gone, one before its ``available_at`` is pending."""
    lots = tuple(lots)
    spendable = {kind: unexpiring.get(kind, 0) for kind in PointKind}
    live = [lot for lot in lots if lot.spendable_at(now)]
    for lot in live:
        spendable[lot.kind] += lot.amount
    pending = sorted(
        (lot for lot in lots if lot.pending_at(now)),
        key=lambda lot: (lot.available_at, lot.expires_at, lot.lot_id),
    )
    return WalletView(
        spendable=spendable,
        pending=tuple(pending),
        expiring=tuple(sorted(live, key=lambda lot: (lot.expires_at, lot.lot_id))),
    )
