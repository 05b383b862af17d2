"""Missions end to end: an operator creates them on the admin API; a member progresses by
`points import` (USED entries), by reading notifications and by `missions record` (events);
completion grants the reward through the ledger once and leaves a localized notice in the inbox;
running every job again changes nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.domain.time import iso_key
from core.settings import Settings
from tests.builders import notification, publish
from tests.e2e.gql import gql
from tests.e2e.test_admin import admin
from tests.e2e.test_points_import import reported
from tests.e2e.test_points_jobs import cli
from tests.e2e.test_wallet import entry
from tests.fakes import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CREATE = """mutation($input: MissionInput!) { createMission(input: $input) {
  mission { id goal { kind target event } reward rewardValidDays contents { locale title } }
  userErrors { field message code } } }"""
STATUS = """{ viewer {
  inbox(first: 50) { edges { node { id title body category } } }
  pointClub {
    balance balanceByKind { paid free }
    missions(first: 10) { edges { cursor node {
      id title body progress goal { kind target event } reward completedAt startsAt endsAt
    } } pageInfo { hasNextPage endCursor } }
    history(first: 50) { edges { node { id kind amount pointKind } } }
  } } }"""
READ = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { unreadCount } }"
UNREAD = "mutation($id: ID!) { markNotificationUnread(id: $id) { unreadCount } }"


def mission_input(
    now: datetime, kind: str, target: int, reward: int, **more: Any
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "contents": [
            {"locale": "ja", "title": f"{kind} {target}", "body": "ミッションに挑戦"},
            {"locale": "en", "title": f"Mission {kind} {target}", "body": "Take the challenge"},
        ],
        "goal": {"kind": kind, "target": target},
        "startsAt": iso_key(now - timedelta(hours=1)),
        "endsAt": iso_key(now + timedelta(days=7)),
        "reward": reward,
        "rewardValidDays": 30,
    }
    value.update(more)
    return value


async def create(api: httpx.AsyncClient, tokens: DevTokenIssuer, value: dict[str, Any]) -> str:
    payload = await admin(api, tokens, CREATE, input=value)
    assert payload["userErrors"] == [], payload
    mission_id: str = payload["mission"]["id"]
    return mission_id


async def status(api: httpx.AsyncClient, token: str, clock: FakeClock) -> dict[str, Any]:
    clock.catch_up()  # what a job (a process on the system clock) did is in the past
    body = await gql(api, STATUS, token=token, headers={"Accept-Language": "en"})
    assert "errors" not in body, body
    club: dict[str, Any] = body["data"]["viewer"]["pointClub"]
    club["inbox"] = [e["node"] for e in body["data"]["viewer"]["inbox"]["edges"]]
    club["missions"] = {e["node"]["id"]: e["node"] for e in club["missions"]["edges"]}
    return club


async def test_a_member_completes_missions_by_using_points_and_reading_once(
    api: httpx.AsyncClient,
    container: Container,
    settings: Settings,
    tokens: DevTokenIssuer,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    clock.catch_up()
    now = clock.now()
    use = await create(api, tokens, mission_input(now, "USE_POINTS", 500, 100))
    read = await create(api, tokens, mission_input(now, "READ_NOTIFICATIONS", 2, 50))
    token = tokens.issue("alice")

    # A USED entry of 300 points: 300 of 500.
    first = tmp_path / "first.jsonl"
    first.write_text(
        entry("earn", "EARNED", 1_000, now - timedelta(days=1), expiresAt=now + timedelta(days=90))
        + "\n"
        + entry("use-1", "USED", -300, now - timedelta(minutes=30))
        + "\n"
    )
    code, out, err = await cli(settings, "points", "import", str(first))
    assert code == 0, out + err
    club = await status(api, token, clock)
    assert club["missions"][use]["progress"] == 300
    assert club["missions"][use]["completedAt"] is None
    assert club["missions"][use]["title"] == "Mission USE_POINTS 500"  # the viewer's locale
    assert club["balance"] == 700

    # Another 250: the goal is reached (progress shows the target), the reward is in the ledger.
    second = tmp_path / "second.jsonl"
    second.write_text(entry("use-2", "USED", -250, now - timedelta(minutes=20)) + "\n")
    code, out, err = await cli(settings, "points", "import", str(second))
    assert code == 0, out + err
    club = await status(api, token, clock)
    assert club["missions"][use]["progress"] == 500
    assert club["missions"][use]["completedAt"] is not None
    assert club["balance"] == 1_000 - 550 + 100
    reward_id = f"mission-{use}-alice"
    rewards = [e["node"] for e in club["history"]["edges"] if e["node"]["id"] == reward_id]
    assert rewards == [{"id": reward_id, "kind": "EARNED", "amount": 100, "pointKind": "FREE"}]
    notice = next(n for n in club["inbox"] if n["id"] == reward_id)
    assert notice["title"] == "Mission complete: Mission USE_POINTS 500"
    assert "100 points" in notice["body"]

    # Reading: each notification once, whatever is read again, unread and read again.
    for index, nid in enumerate(("n1", "n2", "n3")):
        item = notification(nid, visible_from=now - timedelta(minutes=5 + index))
        await publish(container.notifications, container.members, item, ["alice"], now)

    async def mark(query: str, **variables: Any) -> None:
        body = await gql(api, query, variables, token=token)
        assert "errors" not in body, body
        await container.read_counting.drain()

    await mark(READ, ids=["n1"])
    await mark(READ, ids=["n1"])
    await mark(UNREAD, id="n1")
    await mark(READ, ids=["n1", "n-not-mine"])
    club = await status(api, token, clock)
    assert club["missions"][read]["progress"] == 1
    assert club["missions"][read]["completedAt"] is None
    await mark(READ, ids=["n2"])
    club = await status(api, token, clock)
    assert club["missions"][read]["progress"] == 2
    assert club["missions"][read]["completedAt"] is not None
    assert club["balance"] == 1_000 - 550 + 100 + 50
    assert f"mission-{read}-alice" in {n["id"] for n in club["inbox"]}

    # Everything again: the imports, a settle sweep, more reads. Nothing changes.
    for file in (first, second):
        code, out, err = await cli(settings, "points", "import", str(file))
        assert code == 0 and "imported 0 entries" in out, out
    code, out, err = await cli(settings, "missions", "settle")
    assert code == 0, out + err
    await mark(READ, ids=["n3"])
    again = await status(api, token, clock)
    assert again["balance"] == club["balance"]
    assert again["missions"][read]["progress"] == 2
    assert again["missions"][use]["completedAt"] == club["missions"][use]["completedAt"]
    ids = [e["node"]["id"] for e in again["history"]["edges"]]
    assert ids.count(reward_id) == 1 and ids.count(f"mission-{read}-alice") == 1
    notices = [n["id"] for n in again["inbox"] if n["id"].startswith("mission-")]
    assert sorted(notices) == sorted([reward_id, f"mission-{read}-alice"])


async def test_reported_events_count_once_each_and_only_in_the_period(
    api: httpx.AsyncClient,
    settings: Settings,
    tokens: DevTokenIssuer,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    clock.catch_up()
    now = clock.now()
    value = mission_input(now, "EVENT", 2, 30)
    value["goal"]["event"] = "watched-video"
    mission = await create(api, tokens, value)

    def event(event_id: str, user: str, at: datetime, name: str = "watched-video") -> str:
        return json.dumps(
            {"eventId": event_id, "userId": user, "event": name, "occurredAt": iso_key(at)}
        )

    events = tmp_path / "events.jsonl"
    lines = [
        event("e1", "alice", now - timedelta(minutes=3)),
        event("e1", "alice", now - timedelta(minutes=3)),  # the same line again
        event("e2", "alice", now - timedelta(days=2)),  # before the period: recorded, no count
        event("e3", "bob", now - timedelta(minutes=2)),
        event("e4", "alice", now - timedelta(minutes=1), name="Watched Video"),
        '{"eventId": "e5", "userId": "alice"}',
    ]
    events.write_text("\n".join(lines) + "\n")
    code, out, err = await cli(settings, "missions", "record", str(events))
    assert code == 1, out + err
    assert "recorded 3 events (2 toward a mission)" in out, out
    bad = reported(err, events)
    assert sorted(bad) == [2, 5, 6], err
    assert "counted once" in bad[2] and "event must be" in bad[5] and "missing" in bad[6]

    alice = await status(api, tokens.issue("alice"), clock)
    assert alice["missions"][mission]["progress"] == 1
    more = tmp_path / "more.jsonl"
    more.write_text(
        event("e1", "alice", now - timedelta(minutes=3))
        + "\n"
        + event("e6", "alice", now - timedelta(seconds=30))
        + "\n"
        + event("e3", "bob", now - timedelta(minutes=9))  # changed under a known id
        + "\n"
    )
    code, out, err = await cli(settings, "missions", "record", str(more))
    assert code == 1 and "recorded 1 events" in out and "1 were there already" in out, out
    assert "1 missions completed" in out, out
    assert "recorded before with other content" in reported(err, more)[3]
    alice = await status(api, tokens.issue("alice"), clock)
    assert alice["missions"][mission]["progress"] == 2
    assert alice["missions"][mission]["completedAt"] is not None
    assert alice["balance"] == 30

    code, out, _ = await cli(settings, "missions", "record", str(more))
    assert "recorded 0 events" in out and "2 were there already" in out, out
    assert (await status(api, tokens.issue("alice"), clock))["balance"] == 30
    bob = await status(api, tokens.issue("bob"), clock)
    assert (bob["missions"][mission]["progress"], bob["balance"]) == (1, 0)


async def test_create_mission_refuses_bad_input_and_an_eleventh(
    api: httpx.AsyncClient, tokens: DevTokenIssuer, clock: FakeClock
) -> None:
    now = clock.now()
    bad = mission_input(now, "EVENT", 0, 0, endsAt=iso_key(now - timedelta(hours=2)))
    bad["contents"] = [{"locale": "en", "title": "x" * 81, "body": ""}]
    payload = await admin(api, tokens, CREATE, input=bad)
    assert payload["mission"] is None
    fields = {e["field"] for e in payload["userErrors"]}
    assert {
        "contents",
        "contents.en.title",
        "contents.en.body",
        "goal.target",
        "goal.event",
    } <= fields
    assert {"endsAt", "reward"} <= fields
    twice = mission_input(now, "USE_POINTS", 10, 1)
    twice["contents"].append(twice["contents"][0])
    assert (await admin(api, tokens, CREATE, input=twice))["userErrors"][0]["field"] == "contents"

    for n in range(10):
        await create(api, tokens, mission_input(now, "USE_POINTS", 10 + n, 1))
    payload = await admin(api, tokens, CREATE, input=mission_input(now, "USE_POINTS", 99, 1))
    assert [e["code"] for e in payload["userErrors"]] == ["CONFLICT"]
    listed = await admin(api, tokens, "{ missions { id goal { target } } }")
    assert len(listed) == 10


async def test_reward_entry_ids_are_refused_in_imported_files(
    container: Container, settings: Settings, tmp_path: Path
) -> None:
    file = tmp_path / "reserved.jsonl"
    file.write_text(entry("mission-x-alice", "ADJUSTED", 5, datetime.now().astimezone()) + "\n")
    code, _, err = await cli(settings, "points", "import", str(file))
    assert code == 1 and "mission rewards" in reported(err, file)[1], err


async def test_a_retried_create_with_its_idempotency_key_makes_one_mission(
    api: httpx.AsyncClient, tokens: DevTokenIssuer, clock: FakeClock
) -> None:
    query = """mutation($input: MissionInput!, $key: String) {
      createMission(input: $input, idempotencyKey: $key) {
        mission { id } userErrors { field code } } }"""
    value = mission_input(clock.now(), "USE_POINTS", 100, 5)
    first = await admin(api, tokens, query, input=value, key="winter-1")
    again = await admin(api, tokens, query, input=value, key="winter-1")
    assert first["mission"]["id"] == again["mission"]["id"] and again["userErrors"] == []
    other = await admin(api, tokens, query, input={**value, "reward": 6}, key="winter-1")
    assert (other["mission"], [e["code"] for e in other["userErrors"]]) == (None, ["CONFLICT"])
    assert len(await admin(api, tokens, "{ missions { id } }")) == 1
