"""A broadcast as operators and members meet it: authored through the admin API with its audience
rule, published by the CLI (a dry run, a refused delivery by hand, the publish), seen by the
members it reaches and by no one else, read and counted in its stats, then recalled."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.domain.pointclub import ClubRecord
from core.settings import Settings
from tests.e2e.gql import gql
from tests.e2e.test_admin import CREATE, RECALL, SEGMENT, admin, draft
from tests.e2e.test_cli import run_cli
from tests.e2e.test_fanout_cli import env_for
from tests.fakes import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

HOME = "{ viewer { unreadCount inbox { edges { node { id title isRead } } } } }"
READ = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { unreadCount } }"
STATS = """query($id: ID!) { notification(id: $id) {
  state audience { kind segment rule } stats { targeted delivered failed read readRate } } }"""


async def test_a_broadcast_from_authoring_to_recall(
    api: httpx.AsyncClient,
    container: Container,
    settings: Settings,
    clock: FakeClock,
    tokens: DevTokenIssuer,
) -> None:
    joined = clock.now() - timedelta(days=30)
    for member, rank in (("alice", "GOLD"), ("bob", "SILVER"), ("carol", "GOLD")):
        await container.ledger.put_club(member, ClubRecord.joined(rank, joined))
    made = await admin(
        api, tokens, SEGMENT, input={"name": "gold", "rule": {"kind": "RANKS", "ranks": ["GOLD"]}}
    )
    assert made["userErrors"] == []
    audience = {"kind": "SEGMENT", "segment": "gold", "rule": "LIVE"}
    created = await admin(api, tokens, CREATE, input=draft(audience=audience))
    nid = created["notification"]["id"]
    env = env_for(settings)

    dry = await asyncio.to_thread(run_cli, "prepare-notification", nid, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert f"{nid}: broadcast, stored once: audience of 2 members (dry run)" in dry.stdout
    by_hand = await asyncio.to_thread(
        run_cli, "prepare-notification", nid, "--user", "bob", env=env
    )
    assert by_hand.returncode == 1 and "nothing to deliver by hand" in by_hand.stderr
    done = await asyncio.to_thread(run_cli, "prepare-notification", nid, env=env)
    assert done.returncode == 0, done.stderr
    assert f"{nid}: PUBLISHED; broadcast to 2 members, stored once" in done.stdout

    clock.catch_up()
    seen = {}
    for member in ("alice", "bob", "carol"):
        body = await gql(api, HOME, token=tokens.issue(member))
        seen[member] = body["data"]["viewer"]
    assert seen["alice"] == {
        "unreadCount": 1,
        "inbox": {"edges": [{"node": {"id": nid, "title": "秋のキャンペーン", "isRead": False}}]},
    }
    assert seen["bob"] == {"unreadCount": 0, "inbox": {"edges": []}}
    read = await gql(api, READ, {"ids": [nid]}, token=tokens.issue("alice"))
    assert read["data"]["markNotificationsRead"]["unreadCount"] == 0
    await container.read_counting.drain()
    stats = await admin(api, tokens, STATS, id=nid)
    assert stats["audience"] == {"kind": "SEGMENT", "segment": "gold", "rule": "LIVE"}
    assert stats["stats"] == {
        "targeted": 2,
        "delivered": 2,
        "failed": 0,
        "read": 1,
        "readRate": 0.5,
    }

    recalled = await admin(api, tokens, RECALL, id=nid, reason="wrong audience")
    assert recalled["notification"]["state"] == "RECALLED"
    for member in ("alice", "carol"):
        body = await gql(api, HOME, token=tokens.issue(member))
        assert body["data"]["viewer"] == {"unreadCount": 0, "inbox": {"edges": []}}, member


async def test_ranks_recount_from_the_cli(container: Container, settings: Settings) -> None:
    for member, rank in (("alice", "GOLD"), ("bob", "SILVER"), ("carol", "GOLD")):
        await container.ledger.put_club(member, ClubRecord(rank_code=rank))
    done = await asyncio.to_thread(run_cli, "ranks", "recount", env=env_for(settings))
    assert done.returncode == 0, done.stderr
    assert "members per rank: GOLD 2, SILVER 1" in done.stdout
