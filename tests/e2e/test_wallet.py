"""The wallet through the README's commands: `points import` with paid, free and pending lines,
then `pointClub` over GraphQL: the balance by kind, pending points spendable from their moment on
(at read time, no job), the next expiry, which lots a use consumed, and the rank outlook."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.domain.time import iso_key, jst_month, month_end, parse_iso
from core.settings import Settings
from tests.e2e.gql import gql
from tests.e2e.test_points_import import reported
from tests.e2e.test_points_jobs import cli
from tests.fakes import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

WALLET = """{ viewer { pointClub {
  balance balanceByKind { paid free }
  nextExpiry { amount expiresAt }
  paid: expiring(kind: PAID) { amount expiresAt }
  expiring { amount expiresAt }
  pending { amount availableAt }
  rank { code } qualifyingPoints
  outlook { projectedRank { code } pointsToKeepRank keepRankBy }
  history(first: 10) { edges { node {
    id kind amount pointKind expiresAt availableAt
    consumed { lotId kind amount expiresAt }
  } } }
} } }"""


def entry(entry_id: str, kind: str, amount: int, at: datetime, **more: object) -> str:
    document: dict[str, object] = {
        "entryId": entry_id,
        "userId": "alice",
        "kind": kind,
        "amount": amount,
        "occurredAt": iso_key(at),
    }
    document.update({k: iso_key(v) if isinstance(v, datetime) else v for k, v in more.items()})
    return json.dumps(document)


def shown(moment: datetime) -> str:
    """A moment as the API shows it: stored to the millisecond, ISO 8601 in UTC."""
    return parse_iso(iso_key(moment)).isoformat()


async def test_paid_free_and_pending_points_from_import_to_the_status_screen(
    api: httpx.AsyncClient,
    settings: Settings,
    tokens: DevTokenIssuer,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    clock.catch_up()
    now = clock.now()
    soon, late = now + timedelta(days=20), now + timedelta(days=300)
    available = now + timedelta(days=3)
    ledger = tmp_path / "wallet.jsonl"
    lines = [
        entry("buy", "EARNED", 1_000, now - timedelta(days=2), pointKind="PAID", expiresAt=soon),
        entry("bonus", "EARNED", 300, now - timedelta(days=2), expiresAt=late),  # FREE by default
        entry(
            "pointback",
            "EARNED",
            50,
            now - timedelta(days=1),
            pointKind="FREE",
            availableAt=available,
            expiresAt=late,
        ),
        entry("spend", "USED", -500, now - timedelta(hours=1)),
        entry("bad", "USED", -5, now, pointKind="PAID"),
    ]
    ledger.write_text("\n".join(lines) + "\n")
    code, _, err = await cli(settings, "points", "import", str(ledger))
    assert code == 1 and f"{ledger}:5:" in err and "pointKind" in err, err

    token = tokens.issue("alice")
    body = await gql(api, WALLET, token=token)
    assert "errors" not in body, body
    club = body["data"]["viewer"]["pointClub"]
    # Free before paid: the 300 free points went first, then 200 of the paid 1,000.
    assert club["balanceByKind"] == {"paid": 800, "free": 0}
    assert club["balance"] == 800
    assert club["pending"] == [{"amount": 50, "availableAt": shown(available)}]
    assert club["nextExpiry"] == {"amount": 800, "expiresAt": shown(soon)}
    assert club["paid"] == [{"amount": 800, "expiresAt": shown(soon)}]
    spend = next(e["node"] for e in club["history"]["edges"] if e["node"]["id"] == "spend")
    assert spend["consumed"] == [
        {"lotId": "bonus", "kind": "FREE", "amount": 300, "expiresAt": shown(late)},
        {"lotId": "buy", "kind": "PAID", "amount": 200, "expiresAt": shown(soon)},
    ]
    assert spend["pointKind"] is None
    pointback = next(e["node"] for e in club["history"]["edges"] if e["node"]["id"] == "pointback")
    assert (pointback["pointKind"], pointback["availableAt"]) == ("FREE", shown(available))
    outlook = club["outlook"]
    assert outlook["keepRankBy"] == shown(month_end(jst_month(now)))
    assert outlook["pointsToKeepRank"] == 0  # REGULAR is kept whatever happens
    assert outlook["projectedRank"]["code"] == "REGULAR"

    # Three days later the point-back is spendable, with no job run in between.
    clock.current = available
    later = (await gql(api, WALLET, token=token))["data"]["viewer"]["pointClub"]
    assert later["balanceByKind"] == {"paid": 800, "free": 50}
    assert (later["balance"], later["pending"]) == (850, [])

    # The import again changes nothing: every line is there already, the bad one still refused.
    code, out, err = await cli(settings, "points", "import", str(ledger))
    assert code == 1 and "4 were there already" in out, out + err
    again = (await gql(api, WALLET, token=token))["data"]["viewer"]["pointClub"]
    assert again == later


async def test_a_bad_pointkind_or_availableat_is_one_bad_line(
    container: Container, settings: Settings, tmp_path: Path
) -> None:
    at = datetime.now(UTC) - timedelta(days=1)
    later = at + timedelta(days=9)
    ledger = tmp_path / "bad.jsonl"
    lines = [
        entry("k", "EARNED", 5, at, pointKind="GOLD", expiresAt=later),
        entry(
            "a",
            "EARNED",
            5,
            at,
            availableAt=at + timedelta(days=9),
            expiresAt=later,
        ),
        entry("u", "USED", -5, at, availableAt=at + timedelta(days=1)),
        entry("ok", "EARNED", 5, at, pointKind="PAID", expiresAt=later),
        entry("e", "EARNED", 5, at, pointKind="", expiresAt=later),
        entry("z", "EARNED", 5, at, pointKind=0, expiresAt=later),
        entry("l", "EARNED", 5, at, pointKind=["PAID"], expiresAt=later),
        entry("n", "EARNED", 5, at, pointKind=None, expiresAt=later),
    ]
    ledger.write_text("\n".join(lines) + "\n")
    code, _, err = await cli(settings, "points", "import", str(ledger))
    assert code == 1
    bad = reported(err, ledger)
    assert set(bad) == {1, 2, 3, 5, 6, 7}, err  # 4 (PAID) and 8 (null: FREE) are imported
    assert all("pointKind must be PAID or FREE" in bad[n] for n in (1, 5, 6, 7)), err
    assert "availableAt must be from occurredAt on and before expiresAt" in bad[2], err
    assert "only EARNED entries are pending" in bad[3], err
