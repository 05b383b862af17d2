"""`pointclub points import` against what a broken export or a hostile file holds: exactly once
by entry id, every bad line reported with its number and the rest imported, nothing that moves a
member's balance by more than the entry says."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.settings import Settings
from tests.e2e.gql import gql
from tests.e2e.test_points_jobs import EARNED_AT, USED_MONTHS, alice_ledger, cli, line
from tests.fakes import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STATUS = """{ viewer { pointClub { balance qualifyingPoints
  history(first: 20) { edges { node { id amount description } } } } } }"""


async def status(api: httpx.AsyncClient, tokens: DevTokenIssuer) -> dict[str, object]:
    body = await gql(api, STATUS, token=tokens.issue("alice"))
    assert "errors" not in body, body
    club: dict[str, object] = body["data"]["viewer"]["pointClub"]
    return club


def reported(err: str, file: Path) -> dict[int, str]:
    rows = [row.removeprefix(f"{file}:") for row in err.splitlines() if row.startswith(f"{file}:")]
    return {int(row.split(":")[0]): row.split(":", 1)[1] for row in rows}


async def imported(
    settings: Settings, file: Path, lines: Sequence[str | bytes]
) -> tuple[int, str, str]:
    content = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
    file.write_bytes(content)  # noqa: ASYNC240 (a small file, before the job runs)
    return await cli(settings, "points", "import", str(file))


async def test_each_bad_line_is_reported_and_the_rest_imported(
    api: httpx.AsyncClient,
    container: Container,
    settings: Settings,
    tokens: DevTokenIssuer,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    good = alice_ledger()
    hostile: list[str | bytes] = [
        good[0],
        line("old", "ADJUSTED", 5, "0001-01-01T00:00:00+09:00"),
        line("far", "EARNED", 5, EARNED_AT, "9999-12-31T23:00Z"),
        "[" * 100_000 + "]" * 100_000,
        b'{"entryId": "bin", "userId": "alice", "kind": "ADJUSTED", "amount": 1, '
        b'"occurredAt": "2026-01-01T00:00:00Z", "description": "\xff\xfe"}',
        json.dumps(
            {
                "entryId": "sur",
                "userId": "alice",
                "kind": "ADJUSTED",
                "amount": 1,
                "occurredAt": EARNED_AT,
                "description": "\ud800",
            }
        ),
        *good[1:],
    ]
    code, out, err = await imported(settings, ledger, hostile)
    assert code == 1, err
    bad = reported(err, ledger)
    assert sorted(bad) == [2, 3, 4, 5, 6], err
    assert "2000 and 2100" in bad[2] and "2000 and 2100" in bad[3]
    assert "nested" in bad[4] and "UTF-8" in bad[5] and "Unicode" in bad[6]
    assert "Traceback" not in err
    assert "imported 5 entries, 0 were there already, 5 bad lines" in out

    clock.catch_up()
    club = await status(api, tokens)
    assert club["balance"] == 30_000 - 24_000
    assert all(e["node"]["id"] not in ("sur", "bin") for e in club["history"]["edges"])  # type: ignore[index]


async def test_exactly_once_by_entry_id(
    api: httpx.AsyncClient,
    settings: Settings,
    tokens: DevTokenIssuer,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    good = alice_ledger()
    # The same line twice in one file counts once, and says so.
    code, out, err = await imported(settings, ledger, [*good, good[1]])
    assert code == 1
    assert "counted once" in reported(err, ledger)[6]
    assert "imported 5 entries" in out
    clock.catch_up()
    before = await status(api, tokens)

    # A known id with a corrected time is a conflict, not a second entry.
    moved = json.loads(good[1])
    moved["occurredAt"] = f"{USED_MONTHS[1]}-20T12:00:00+09:00"
    code, out, err = await imported(settings, ledger, [json.dumps(moved)])
    assert code == 1
    assert "other content" in reported(err, ledger)[1]
    assert "imported 0 entries, 0 were there already, 1 bad lines" in out
    assert await status(api, tokens) == before

    # The file again, unchanged: all there already, nothing counted.
    code, out, _ = await imported(settings, ledger, good)
    assert code == 0 and "imported 0 entries, 5 were there already, 0 bad lines" in out
    assert await status(api, tokens) == before


async def test_an_entry_dated_far_ahead_changes_the_balance_by_its_amount_only(
    api: httpx.AsyncClient,
    settings: Settings,
    tokens: DevTokenIssuer,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    assert (await imported(settings, ledger, alice_ledger()))[0] == 0
    clock.catch_up()
    before = await status(api, tokens)

    code, _, err = await imported(
        settings, ledger, [line("ahead", "USED", -1, "2062-06-01T00:00:00+09:00")]
    )
    assert code == 0, err
    after = await status(api, tokens)
    assert after["balance"] == before["balance"] - 1  # type: ignore[operator]
    assert after["qualifyingPoints"] == before["qualifyingPoints"]


async def test_entries_imported_before_ids_were_claimed_are_not_counted_again(
    container: Container, settings: Settings, tmp_path: Path
) -> None:
    from core.usecases.ledger_import import parse_line

    lines = alice_ledger()
    await container.ledger.put_ledger("alice", [parse_line(text)[1] for text in lines])
    code, out, err = await imported(settings, tmp_path / "again.jsonl", lines)
    assert code == 0, err
    assert "imported 0 entries, 5 were there already, 0 bad lines" in out
    assert await container.ledger.club_for_update("alice") == (None, 0)
