"""Every field of the point-club status over HTTP, read from the lazy ``PointClubView`` that the
GraphQL status is (``PointClubStatus.from_view`` casts, so no type checker sees a field the view
or its parts lack), against the domain's own ``club_status`` of the same record."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from strawberry.types.base import get_object_definition

from core.domain.club_status import club_status
from core.domain.pointclub import ClubRecord
from core.domain.wallet import PointKind, PointLot
from core.queries.views import (
    PendingPointsView,
    PointBalanceView,
    PointClubView,
    PointExpiryView,
    RankOutlookView,
    RankView,
)
from core.settings import Settings
from resolvers.viewer import PointClubStatus
from schema.pointclub import PendingPoints, PointBalance, PointExpiry, Rank, RankOutlook
from tests.e2e.gql import app_client, gql
from tests.fakes import FakeClock, World, fake_container

pytestmark = pytest.mark.e2e

RANK = "code name threshold pointBackRate"
STATUS = f"""{{ viewer {{ pointClub {{
  balance balanceByKind {{ paid free }} nextExpiry {{ amount expiresAt }}
  pending {{ amount availableAt }} rank {{ {RANK} }} nextRank {{ {RANK} }}
  qualifyingPoints pointsToNextRank rankValidUntil
  outlook {{ projectedRank {{ {RANK} }} pointsToKeepRank keepRankBy }}
  expiring {{ amount expiresAt }} paid: expiring(kind: PAID) {{ amount expiresAt }}
  free: expiring(kind: FREE) {{ amount expiresAt }}
}} }} }}"""


@pytest.mark.parametrize(
    ("graphql_type", "view"),
    [
        (PointClubStatus, PointClubView),
        (PointBalance, PointBalanceView),
        (PointExpiry, PointExpiryView),
        (PendingPoints, PendingPointsView),
        (Rank, RankView),
        (RankOutlook, RankOutlookView),
    ],
)
def test_the_view_has_every_field_of_the_graphql_type(graphql_type: type, view: type) -> None:
    definition = get_object_definition(graphql_type, strict=True)
    plain = [f.python_name for f in definition.fields if f.base_resolver is None]
    private = [
        n
        for n in ("user_id", "all_expiring", "expiring_by_kind")
        if graphql_type is PointClubStatus
    ]
    missing = [name for name in (*plain, *private) if not _has(view, name)]
    assert missing == []


def _has(view: type, name: str) -> bool:
    return (
        hasattr(view, name)
        or name in getattr(view, "__dataclass_fields__", {})
        or name in getattr(view, "__slots__", ())
    )


async def test_every_status_field_reads_what_the_domain_says(clock: FakeClock) -> None:
    now = clock.now()
    record = ClubRecord(
        lots=(
            PointLot("l1", 300, now + timedelta(days=10), PointKind.PAID),
            PointLot("l2", 200, now + timedelta(days=3)),
            PointLot("l3", 120, now + timedelta(days=3), PointKind.PAID),
            PointLot("l4", 80, now + timedelta(days=20), available_at=now + timedelta(days=2)),
            PointLot("l5", 50, now - timedelta(days=1)),  # expired: no job has run yet
        ),
        used_by_month={},
        rank_code="SILVER",
    )
    world = World()
    world.clubs["alice"] = record
    container = fake_container(Settings(table_name="in-memory"), clock=clock, world=world)
    token = container.issuer.issue("alice")
    async with app_client(container.settings, container) as api:
        body = await gql(api, STATUS, token=token, headers={"Accept-Language": "en"})
    assert "errors" not in body, body
    shown = body["data"]["viewer"]["pointClub"]
    status = club_status(record, container.ranks, now)

    assert shown["balance"] == status.balance == 620
    assert shown["balanceByKind"] == {"paid": 420, "free": 200}
    assert _expiries(shown["expiring"]) == [(e.amount, e.expires_at) for e in status.expiring]
    assert _expiries(shown["paid"]) == [
        (e.amount, e.expires_at) for e in status.expiring_by_kind[PointKind.PAID]
    ]
    assert _expiries(shown["free"]) == [
        (e.amount, e.expires_at) for e in status.expiring_by_kind[PointKind.FREE]
    ]
    assert _expiries([shown["nextExpiry"]]) == [(320, now + timedelta(days=3))]
    assert [(p["amount"], _at(p["availableAt"])) for p in shown["pending"]] == [
        (80, now + timedelta(days=2))
    ]
    assert shown["rank"] == {"code": "SILVER", "name": "Silver", **_rank(status.rank)}
    assert status.next_rank is not None
    assert shown["nextRank"]["code"] == status.next_rank.code
    assert shown["nextRank"]["name"] == status.next_rank.name_for(("en",), "ja")
    assert (shown["qualifyingPoints"], shown["pointsToNextRank"]) == (
        status.qualifying_points,
        status.points_to_next_rank,
    )
    assert _at(shown["rankValidUntil"]) == status.rank_valid_until
    outlook = shown["outlook"]
    assert outlook["projectedRank"]["code"] == status.outlook.projected_rank.code
    assert outlook["pointsToKeepRank"] == status.outlook.points_to_keep_rank
    assert _at(outlook["keepRankBy"]) == status.outlook.keep_rank_by


def _rank(rank: Any) -> dict[str, Any]:
    return {"threshold": rank.threshold, "pointBackRate": rank.point_back_rate}


def _expiries(shown: list[dict[str, Any]]) -> list[tuple[int, datetime]]:
    return [(e["amount"], _at(e["expiresAt"])) for e in shown]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
