"""Club and ledger items written before point kinds read as they always meant: free points, none
pending, uses with no recorded lots; and every new field survives a round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.domain.pointclub import ClubRecord, LedgerEntry, PointEntryKind
from core.domain.wallet import LotUse, PointKind, PointLot
from core.infra.dynamodb.club_codec import (
    club_from_item,
    club_to_item,
    ledger_from_item,
    ledger_to_item,
)

T = datetime(2026, 12, 1, tzinfo=UTC)


def test_items_from_before_kinds_read_as_free_spendable_points() -> None:
    old_club = {
        "PK": {"S": "USER#alice"},
        "SK": {"S": "I~CLUB"},
        "lots": {
            "L": [
                {
                    "M": {
                        "id": {"S": "e1"},
                        "amt": {"N": "30"},
                        "exp": {"S": "2027-01-01T00:00:00.000Z"},
                    }
                }
            ]
        },
        "used": {"M": {}},
        "adj": {"N": "-7"},
    }
    record = club_from_item(old_club)
    assert record is not None
    assert record.lots == (PointLot("e1", 30, datetime(2027, 1, 1, tzinfo=UTC)),)
    assert record.unexpiring == {PointKind.FREE: -7}
    old_use = {
        "eid": {"S": "u1"},
        "kind": {"S": "USED"},
        "amt": {"N": "-5"},
        "at": {"S": "2026-12-01T00:00:00.000Z"},
    }
    entry = ledger_from_item(old_use)
    assert (entry.point_kind, entry.available_at, entry.consumed) == (None, None, ())


def test_kinds_pending_and_consumed_lots_round_trip() -> None:
    lots = (
        PointLot("p", 10, T + timedelta(days=9), PointKind.PAID),
        PointLot("f", 20, T + timedelta(days=90), PointKind.FREE, T + timedelta(days=30)),
    )
    record = ClubRecord(lots=lots, unexpiring={PointKind.FREE: 3, PointKind.PAID: -2})
    assert club_from_item(club_to_item("alice", record)) == record
    use = LedgerEntry(
        "u",
        PointEntryKind.USED,
        -15,
        T,
        consumed=(
            LotUse("p", PointKind.PAID, 10, T + timedelta(days=9)),
            LotUse(None, PointKind.FREE, 5),
        ),
    )
    refund = LedgerEntry("r", PointEntryKind.ADJUSTED, -4, T, point_kind=PointKind.FREE)
    earned = LedgerEntry(
        "e",
        PointEntryKind.EARNED,
        20,
        T,
        expires_at=T + timedelta(days=90),
        point_kind=PointKind.PAID,
        available_at=T + timedelta(days=30),
    )
    for entry in (use, refund, earned):
        assert ledger_from_item(ledger_to_item("alice", entry)) == entry
