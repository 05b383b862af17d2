"""The point-club items (the club record, ledger entries) to domain values and back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.domain.audience import member_shard
from core.domain.pointclub import ClubRecord, LedgerEntry, PointEntryKind, RankPeriod
from core.domain.time import iso_key, parse_iso
from core.domain.wallet import LotUse, PointKind, PointLot
from core.infra.dynamodb import keys
from core.infra.dynamodb.codec import Item, n, opt_time, s


def club_to_item(user_id: str, record: ClubRecord) -> Item:
    item: Item = {
        keys.PK: s(keys.user_pk(user_id)),
        keys.SK: s(keys.CLUB_SK),
        "lots": {"L": [{"M": _lot_to_map(lot)} for lot in record.lots]},
        "used": {"M": {month: n(amount) for month, amount in record.used_by_month.items()}},
        # Unexpiring points: "adj" the free ones (all there was before kinds), "adjP" the paid.
        "adj": n(record.unexpiring.get(PointKind.FREE, 0)),
    }
    if record.unexpiring.get(PointKind.PAID):
        item["adjP"] = n(record.unexpiring[PointKind.PAID])
    if record.applied_until is not None:
        item["upto"] = s(iso_key(record.applied_until))
    if record.rank_code is not None:
        item["rank"] = s(record.rank_code)
        # Members by rank (segments, fan-out): sharded so no index key takes every member.
        item["GSI1PK"] = s(keys.rank_index_pk(record.rank_code, member_shard(user_id)))
        item["GSI1SK"] = s(user_id)
    if record.rank_month is not None:
        item["rankMonth"] = s(record.rank_month)
    if record.previous_rank is not None:
        item["prevRank"] = s(record.previous_rank)
    if record.evaluation_run is not None:
        item["evalRun"] = s(record.evaluation_run)
    if record.rank_history:
        item["rh"] = {
            "L": [
                {"M": {"at": s(iso_key(period.since)), "r": s(period.rank)}}
                for period in record.rank_history
            ]
        }
    return item


def club_from_item(item: Mapping[str, Any] | None) -> ClubRecord | None:
    if item is None:
        return None
    lots = tuple(_lot_from_map(lot["M"]) for lot in item.get("lots", {}).get("L", []))
    unexpiring = {
        PointKind.FREE: int(item.get("adj", {"N": "0"})["N"]),
        PointKind.PAID: int(item.get("adjP", {"N": "0"})["N"]),
    }
    used = {month: int(value["N"]) for month, value in item.get("used", {}).get("M", {}).items()}
    return ClubRecord(
        lots=lots,
        used_by_month=used,
        rank_code=item["rank"]["S"] if "rank" in item else None,
        rank_month=item["rankMonth"]["S"] if "rankMonth" in item else None,
        unexpiring={kind: amount for kind, amount in unexpiring.items() if amount},
        previous_rank=item["prevRank"]["S"] if "prevRank" in item else None,
        evaluation_run=item["evalRun"]["S"] if "evalRun" in item else None,
        applied_until=opt_time(item, "upto"),
        rank_history=tuple(
            RankPeriod(parse_iso(period["M"]["at"]["S"]), period["M"]["r"]["S"])
            for period in item.get("rh", {}).get("L", [])
        ),
    )


def ledger_to_item(user_id: str, entry: LedgerEntry) -> Item:
    item: Item = {
        keys.PK: s(keys.user_pk(user_id)),
        keys.SK: s(keys.ledger_sk(entry.occurred_at, entry.entry_id)),
        "eid": s(entry.entry_id),
        "kind": s(entry.kind.value),
        "amt": n(entry.amount),
        "at": s(iso_key(entry.occurred_at)),
    }
    if entry.description is not None:
        item["desc"] = s(entry.description)
    if entry.expires_at is not None:
        item["exp"] = s(iso_key(entry.expires_at))
    if entry.point_kind is not None:
        item["pk"] = s(entry.point_kind.value)
    if entry.available_at is not None:
        item["avl"] = s(iso_key(entry.available_at))
    if entry.consumed:
        item["use"] = {"L": [{"M": _use_to_map(use)} for use in entry.consumed]}
    return item


def ledger_from_item(item: Mapping[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        entry_id=item["eid"]["S"],
        kind=PointEntryKind(item["kind"]["S"]),
        amount=int(item["amt"]["N"]),
        occurred_at=parse_iso(item["at"]["S"]),
        description=item["desc"]["S"] if "desc" in item else None,
        expires_at=opt_time(item, "exp"),
        point_kind=PointKind(item["pk"]["S"]) if "pk" in item else None,
        available_at=opt_time(item, "avl"),
        consumed=tuple(_use_from_map(use["M"]) for use in item.get("use", {}).get("L", [])),
    )


# A lot's and a use's kind is written only when PAID: items from before kinds read as FREE.


def _lot_to_map(lot: PointLot) -> Item:
    fields: Item = {"id": s(lot.lot_id), "amt": n(lot.amount), "exp": s(iso_key(lot.expires_at))}
    if lot.kind is not PointKind.FREE:
        fields["k"] = s(lot.kind.value)
    if lot.available_at is not None:
        fields["avl"] = s(iso_key(lot.available_at))
    return fields


def _lot_from_map(fields: Mapping[str, Any]) -> PointLot:
    return PointLot(
        lot_id=fields["id"]["S"],
        amount=int(fields["amt"]["N"]),
        expires_at=parse_iso(fields["exp"]["S"]),
        kind=PointKind(fields["k"]["S"]) if "k" in fields else PointKind.FREE,
        available_at=opt_time(fields, "avl"),
    )


def _use_to_map(use: LotUse) -> Item:
    fields: Item = {"amt": n(use.amount)}
    if use.lot_id is not None:
        fields["id"] = s(use.lot_id)
    if use.kind is not PointKind.FREE:
        fields["k"] = s(use.kind.value)
    if use.expires_at is not None:
        fields["exp"] = s(iso_key(use.expires_at))
    return fields


def _use_from_map(fields: Mapping[str, Any]) -> LotUse:
    return LotUse(
        lot_id=fields["id"]["S"] if "id" in fields else None,
        kind=PointKind(fields["k"]["S"]) if "k" in fields else PointKind.FREE,
        amount=int(fields["amt"]["N"]),
        expires_at=opt_time(fields, "exp"),
    )
