"""The point-club jobs as operators run them (CLI processes), seen by the member over /graphql."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.domain.time import jst_month, shift_month
from core.settings import Settings
from tests.e2e.gql import gql
from tests.e2e.test_cli import run_cli
from tests.e2e.test_fanout_cli import env_for
from tests.fakes import FakeClock

JST = timezone(timedelta(hours=9))

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

HOME = """{ viewer { inbox(first: 10) { edges { node { id title body category } } }
  pointClub { balance rank { code } qualifyingPoints expiring { amount expiresAt }
  history(first: 50) { edges { node { id kind amount } } } } } }"""


def line(entry_id: str, kind: str, amount: int, at: str, expires: str | None = None) -> str:
    document = {
        "entryId": entry_id,
        "userId": "alice",
        "kind": kind,
        "amount": amount,
        "occurredAt": at,
        "description": f"{kind.lower()} {entry_id}",
    }
    if expires:
        document["expiresAt"] = expires
    return json.dumps(document)


# The jobs run on the real clock, so the ledger is dated from this JST month: a rank notice for
# a month that has ended is expired, and is not sent.
MONTH = jst_month(datetime.now(UTC))
EARNED_AT = f"{shift_month(MONTH, -6)}-01T10:00:00+09:00"
EXPIRES_AT = f"{shift_month(MONTH, 7)}-01T00:00:00+09:00"
USED_MONTHS = [shift_month(MONTH, -offset) for offset in (5, 4, 3, 2)]


def alice_ledger() -> list[str]:
    lines = [line("earn-1", "EARNED", 30_000, EARNED_AT, EXPIRES_AT)]
    for month in USED_MONTHS:
        lines.append(line(f"use-{month}", "USED", -6_000, f"{month}-15T12:00:00+09:00"))
    return lines


async def cli(settings: Settings, *args: str) -> tuple[int, str, str]:
    result = await asyncio.to_thread(run_cli, *args, env=env_for(settings), timeout=120)
    return result.returncode, result.stdout, result.stderr


async def test_import_evaluate_notify_and_rerun_changes_nothing(
    api: httpx.AsyncClient,
    container: Container,
    settings: Settings,
    tokens: DevTokenIssuer,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("\n".join(alice_ledger()) + "\n")
    code, out, err = await cli(settings, "points", "import", str(ledger))
    assert code == 0, err
    assert "imported 5 entries, 0 were there already, 0 bad lines" in out
    code, out, err = await cli(settings, "ranks", "evaluate", "--month", MONTH, "--notify")
    assert code == 0, err
    assert "evaluated 1 members (0 already), 1 changed rank, 1 notified" in out

    clock.catch_up()
    token = tokens.issue("alice")
    first = (await gql(api, HOME, token=token))["data"]["viewer"]
    club = first["pointClub"]
    assert club["rank"]["code"] == "GOLD"
    assert club["balance"] == 30_000 - 24_000
    expires = datetime.fromisoformat(EXPIRES_AT).astimezone(UTC).isoformat()
    assert club["expiring"] == [{"amount": 6_000, "expiresAt": expires}]
    assert [e["node"]["kind"] for e in club["history"]["edges"]].count("USED") == 4
    notices = [e["node"] for e in first["inbox"]["edges"]]
    assert [(n["id"], n["title"], n["category"]) for n in notices] == [
        (f"rank-{MONTH}-alice", "ゴールドランクになりました", "rank")
    ]

    code, out, _ = await cli(settings, "points", "import", str(ledger))
    assert code == 0 and "imported 0 entries, 5 were there already" in out
    code, out, _ = await cli(settings, "ranks", "evaluate", "--month", MONTH, "--notify")
    assert code == 0 and "evaluated 0 members (1 already), 0 changed rank, 0 notified" in out
    assert (await gql(api, HOME, token=token))["data"]["viewer"] == first


async def test_bad_lines_are_reported_and_a_rerun_after_the_fix_completes(
    container: Container, settings: Settings, tmp_path: Path
) -> None:
    good = alice_ledger()
    broken = [
        good[0],
        "{not json",
        line(
            f"use-{USED_MONTHS[0]}", "USED", 6_000, f"{USED_MONTHS[0]}-15T12:00:00+09:00"
        ),  # wrong sign
        good[2],
        json.dumps(
            {
                "entryId": "x",
                "userId": "alice",
                "kind": "EARNED",
                "amount": 5,
                "occurredAt": f"{USED_MONTHS[0]}-01T00:00:00",
            }
        ),  # no offset, no expiry
        good[3],
    ]
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("\n".join(broken) + "\n")
    code, out, err = await cli(settings, "points", "import", str(ledger))
    assert code == 1
    reported = [row for row in err.splitlines() if row.startswith(f"{ledger}:")]
    assert [row.removeprefix(f"{ledger}:").split(":")[0] for row in reported] == ["2", "3", "5"]
    assert "imported 3 entries, 0 were there already, 3 bad lines" in out

    ledger.write_text("\n".join(good) + "\n")
    code, out, err = await cli(settings, "points", "import", str(ledger))
    assert code == 0, err
    assert "imported 2 entries, 3 were there already, 0 bad lines" in out
    record, _ = await container.ledger.club_for_update("alice")
    assert record is not None and sum(record.used_by_month.values()) == 24_000


async def test_expiring_points_are_announced_once_per_lot(
    api: httpx.AsyncClient,
    container: Container,
    settings: Settings,
    tokens: DevTokenIssuer,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    # The job runs on the real clock: the lots expire relative to today, and the API reads on
    # the real clock too (a notice is visible from the moment the job sent it).
    today = datetime.now(JST).replace(hour=0, minute=0, second=0, microsecond=0)
    expires = today + timedelta(days=4)
    soon = expires.isoformat()
    later = (today + timedelta(days=90)).isoformat()
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(
        "\n".join(
            [
                line("lot-soon", "EARNED", 1_500, EARNED_AT, soon),
                line("lot-later", "EARNED", 800, EARNED_AT, later),
            ]
        )
        + "\n"
    )
    assert (await cli(settings, "points", "import", str(ledger)))[0] == 0
    code, out, err = await cli(settings, "points", "notify-expiring", "--within", "7d")
    assert code == 0, err
    assert "1 notices sent, 0 sent before" in out
    code, out, _ = await cli(settings, "points", "notify-expiring", "--within", "7d")
    assert "0 notices sent, 1 sent before" in out
    clock.catch_up()
    body = await gql(
        api,
        "{ viewer { inbox { edges { node { id body } } } } }",
        token=tokens.issue("alice", locale="en"),
    )
    (notice,) = [e["node"] for e in body["data"]["viewer"]["inbox"]["edges"]]
    assert notice["id"] == "expiring-alice-lot-soon"
    assert notice["body"] == f"1,500 points expire on {expires:%Y-%m-%d} 00:00 (JST)."
