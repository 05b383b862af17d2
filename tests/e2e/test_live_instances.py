"""The live inbox across processes, as it is deployed: `pointclub serve` instances sharing one
redis-server, batch jobs started from the CLI beside them; and the embedded default, where
`serve` with nothing configured starts its own broker and the CLI finds it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.settings import Settings
from core.usecases.seed_demo import DEMO_MEMBER
from tests.brokers import Broker
from tests.e2e.live import live, subscribed
from tests.e2e.test_cli import cli_env, run_cli, serving
from tests.engines import Engine, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CREATE = """mutation($input: NotificationInput!) {
  createNotification(input: $input) { notification { id } userErrors { message } } }"""
MARK_READ = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { unreadCount } }"


def to_member(user_id: str, title: str) -> dict[str, Any]:
    return {
        "category": "campaign",
        "priority": "HIGH",
        "contents": [{"locale": "ja", "title": title, "body": "本文"}],
        "audience": {"kind": "USER", "userId": user_id},
    }


async def created(http: httpx.AsyncClient, admin: str, user_id: str, title: str) -> str:
    response = await http.post(
        "/admin/graphql",
        json={"query": CREATE, "variables": {"input": to_member(user_id, title)}},
        headers={"Authorization": f"Bearer {admin}"},
    )
    payload = response.json()["data"]["createNotification"]
    assert payload["userErrors"] == [], payload
    nid: str = payload["notification"]["id"]
    return nid


async def test_two_servers_on_one_redis_deliver_a_cli_fanout_and_a_mutation_on_the_other(
    engine: Engine, settings: Settings, container: Container, broker: Broker
) -> None:
    """Must-show 1: subscribed on instance A; `prepare-notification` from the CLI and
    `markNotificationsRead` on instance B; both arrive on A, counts right, seq consecutive."""
    env = cli_env(
        POINTCLUB_DYNAMODB_ENDPOINT=engine.url,
        POINTCLUB_TABLE_NAME=settings.table_name,
        POINTCLUB_RECALL_SHARDS=str(settings.recall_shards),
        POINTCLUB_REDIS_URL=broker.url,
    )
    issuer = DevTokenIssuer(settings)
    member, admin = issuer.issue("alice"), issuer.issue("op", admin=True)
    with serving(env) as a, serving(env) as b:
        host_a = f"127.0.0.1:{a.port}"
        async with httpx.AsyncClient(base_url=b.url) as on_b, live(host_a, member) as client:
            first = await subscribed(client)
            assert first["unreadCount"] == 0
            nid = await created(on_b, admin, "alice", "二台目から")
            job = await asyncio.to_thread(run_cli, "prepare-notification", nid, env=env)
            assert job.returncode == 0, job.stderr
            delivered = await client.event()
            assert delivered["kind"] == "NEW_ITEM" and delivered["item"]["title"] == "二台目から"
            assert (delivered["seq"], delivered["unreadCount"]) == (first["seq"] + 1, 1)

            response = await on_b.post(
                "/graphql",
                json={"query": MARK_READ, "variables": {"ids": [nid]}},
                headers={"Authorization": f"Bearer {member}"},
            )
            assert response.json()["data"]["markNotificationsRead"]["unreadCount"] == 0
            read = await client.event()
            assert (read["kind"], read["ids"], read["unreadCount"]) == ("READ", [nid], 0)
            assert read["seq"] == first["seq"] + 2
            for url in (a.url, b.url):
                ready = (await on_b.get(f"{url}/readyz")).json()
                assert ready["events"] == "ok"


async def test_serve_with_nothing_configured_delivers_a_cli_commands_event() -> None:
    """Must-show 3: the embedded default. `serve` starts its store and its broker; a
    `prepare-notification` in a second terminal arrives live."""
    store_port, events_port = free_port(), free_port()
    env = cli_env(
        POINTCLUB_EMBEDDED_PORT=str(store_port), POINTCLUB_EMBEDDED_EVENTS_PORT=str(events_port)
    )
    issuer = DevTokenIssuer(Settings())
    member, admin = issuer.issue(DEMO_MEMBER), issuer.issue("op", admin=True)
    with serving(env, store_port) as server:
        assert f"events:    embedded broker (fakeredis) at redis://127.0.0.1:{events_port}" in (
            server.banner
        )
        host = f"127.0.0.1:{server.port}"
        async with httpx.AsyncClient(base_url=server.url) as http, live(host, member) as client:
            first = await subscribed(client)
            nid = await created(http, admin, DEMO_MEMBER, "ライブで届く")
            job = await asyncio.to_thread(run_cli, "prepare-notification", nid, env=env)
            assert job.returncode == 0, job.stderr
            event = await client.event()
            assert (event["kind"], event["item"]["title"]) == ("NEW_ITEM", "ライブで届く")
            assert event["unreadCount"] == first["unreadCount"] + 1
            assert event["seq"] == first["seq"] + 1
