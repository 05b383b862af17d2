"""The live inbox as a front-end sees it: a real server (uvicorn, in this process), a real broker
(redis-server, or fakeredis where it is not installed), graphql-transport-ws from the client's
side. Changes are made as operators, batch jobs and the member's other devices make them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from core.auth import DevTokenIssuer
from core.bootstrap import Container, build_container
from core.domain.events import ChangeKind, InboxChange
from core.domain.notification import LocalizedContent, NotificationPatch
from core.domain.notification_draft import Audience, AudienceKind, AudienceRule
from core.domain.segment import SegmentKind, SegmentRule
from core.endpoints import open_events
from core.infra.dynamodb.table import delete_table
from core.infra.events import connect
from core.settings import Settings
from tests.brokers import Broker, start_broker
from tests.builders import add_members, broadcast_for, draft, notification, publish, user_list
from tests.e2e.gql import gql
from tests.e2e.live import EVENTS, live, served, subscribed
from tests.engines import ROOT
from tests.fakes import FakeClock, SequentialIds

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

MARK_READ = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { unreadCount } }"
MARK_UNREAD = "mutation($id: ID!) { markNotificationUnread(id: $id) { unreadCount } }"
ARCHIVE = "mutation($ids: [ID!]!) { archiveNotifications(ids: $ids) { unreadCount } }"
MARK_ALL = "mutation($c: [String!]) { markAllNotificationsRead(categories: $c) { unreadCount } }"


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def settings(settings: Settings, broker: Broker, overrides: dict[str, Any]) -> Settings:
    return settings.model_copy(update={"redis_url": SecretStr(broker.url), **overrides})


@pytest.fixture
async def container(
    settings: Settings, dynamo_client: Any, clock: FakeClock
) -> AsyncIterator[Container]:
    async with open_events(settings) as events:  # as every process opens its publisher
        built = build_container(
            settings, dynamo_client, clock=clock, ids=SequentialIds(), events=events
        )
        await built.system.create_table()
        yield built
    await delete_table(dynamo_client, settings.table_name)


@pytest.fixture
async def host(settings: Settings, container: Container) -> AsyncIterator[str]:
    async with served(settings, container) as running:
        yield running


async def inbox_of(container: Container, clock: FakeClock, user_id: str, *nids: str) -> None:
    for index, nid in enumerate(nids):
        item = notification(nid, visible_from=clock.now() - timedelta(minutes=10 - index))
        await publish(container.notifications, container.members, item, [user_id], clock.now())


async def test_read_state_changes_reach_every_device_with_exact_counts_and_consecutive_seq(
    host: str, api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: Any
) -> None:
    await inbox_of(container, clock, "alice", "n1", "n2", "n3")
    token = tokens.issue("alice")
    async with live(host, token) as phone, live(host, token) as tablet:
        first = await subscribed(phone)
        assert (await subscribed(tablet))["seq"] == first["seq"]
        assert first["unreadCount"] == 3
        seq = first["seq"]
        steps: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
            (MARK_READ, {"ids": ["n1", "n2", "nope"]}, {"kind": "READ", "ids": ["n1", "n2"]}),
            (MARK_UNREAD, {"id": "n1"}, {"kind": "UNREAD", "ids": ["n1"]}),
            (ARCHIVE, {"ids": ["n2"]}, {"kind": "ARCHIVED", "ids": ["n2"]}),
            (MARK_ALL, {"c": ["news"]}, {"kind": "ALL_READ", "categories": ["news"]}),
        ]
        for query, variables, expected in steps:
            body = await gql(api, query, variables, token=token)
            count = next(iter(body["data"].values()))["unreadCount"]
            seq += 1
            for device in (phone, tablet):
                event = await device.event()
                assert event["seq"] == seq and event["unreadCount"] == count, event
                assert {k: event[k] for k in expected} == expected, event
        assert count == 0


async def test_a_member_never_receives_another_members_events(
    host: str, api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: Any
) -> None:
    await inbox_of(container, clock, "alice", "a1")
    await inbox_of(container, clock, "bob", "b1")
    async with live(host, tokens.issue("alice")) as alice, live(host, tokens.issue("bob")) as bob:
        start = await subscribed(alice)
        await subscribed(bob)
        await gql(api, MARK_READ, {"ids": ["b1", "a1"]}, token=tokens.issue("bob"))
        assert (await bob.event())["ids"] == ["b1"]  # a1 is not bob's: not named
        await alice.quiet(1.0)
        await gql(api, MARK_READ, {"ids": ["a1"]}, token=tokens.issue("alice"))
        event = await alice.event()
        assert event["seq"] == start["seq"] + 1 and event["ids"] == ["a1"]
        assert event["unreadCount"] == 0


async def test_deliveries_broadcasts_amends_and_recalls_arrive_in_each_members_locale(
    host: str, container: Container, clock: FakeClock, tokens: Any
) -> None:
    [gold] = await add_members(container, 1, rank="GOLD", prefix="gold")
    [silver] = await add_members(container, 1, rank="SILVER", prefix="silver")
    await user_list(container, "pair", [gold, silver])
    contents = {
        "ja": LocalizedContent("お知らせ", "本文"),
        "en": LocalizedContent("Notice", "Body"),
    }
    to_pair = draft(Audience(AudienceKind.SEGMENT, segment="pair"), clock.now())
    fanned = await container.authoring().create("op", replace(to_pair, contents=contents))
    async with (
        live(host, tokens.issue(gold), acceptLanguage="en") as g,
        live(host, tokens.issue(silver)) as s,
    ):
        g_seq, s_seq = (await subscribed(g))["seq"], (await subscribed(s))["seq"]
        await container.prepare_notification().run(fanned.notification_id)
        g_event, s_event = await g.event(), await s.event()
        assert g_event["kind"] == s_event["kind"] == "NEW_ITEM"
        assert g_event["item"]["title"] == "Notice" and s_event["item"]["title"] == "お知らせ"
        assert (g_event["seq"], s_event["seq"]) == (g_seq + 1, s_seq + 1)
        assert g_event["unreadCount"] == s_event["unreadCount"] == 1

        # A broadcast to GOLD: one message; the gold member gets the item, the other the count.
        await container.segment_authoring().create(
            "op", "golds", SegmentRule(SegmentKind.RANKS, ranks=("GOLD",))
        )
        nid = await broadcast_for(container, clock.now(), segment="golds")
        await container.prepare_notification().run(nid)
        g_event, s_event = await g.event(), await s.event()
        assert (g_event["kind"], g_event["ids"], g_event["unreadCount"]) == ("NEW_ITEM", [nid], 2)
        assert (s_event["kind"], s_event["ids"], s_event["unreadCount"]) == ("UNREAD_COUNT", [], 1)
        assert (g_event["seq"], s_event["seq"]) == (g_seq + 2, s_seq + 2)

        patch = NotificationPatch(contents={"ja": LocalizedContent("改訂", "新しい本文")})
        await container.authoring().update("op", nid, patch)
        g_event, s_event = await g.event(), await s.event()
        assert (g_event["kind"], g_event["item"]["title"]) == ("AMENDED", "改訂")
        assert s_event["kind"] == "UNREAD_COUNT"

        await container.authoring().recall("op", nid, "sent by mistake")
        g_event, s_event = await g.event(), await s.event()
        assert (g_event["kind"], g_event["ids"], g_event["unreadCount"]) == ("RECALLED", [nid], 1)
        assert (s_event["kind"], s_event["unreadCount"]) == ("RECALLED", 1)
        assert (g_event["seq"], s_event["seq"]) == (g_seq + 4, s_seq + 4)


async def test_bad_missing_and_expired_tokens_are_refused_before_anything_is_sent(
    host: str, settings: Settings
) -> None:
    issuer = DevTokenIssuer(settings)
    expired = issuer.issue("alice", ttl=timedelta(minutes=-5))
    forged = DevTokenIssuer(settings.model_copy(update={"jwt_secret": SecretStr("x" * 40)}))
    for payload in (
        {},
        {"authorization": "Bearer not-a-token"},
        {"authorization": f"Bearer {expired}"},
        {"authorization": f"Bearer {forged.issue('alice')}"},
        {"token": "x" * 10_000},
    ):
        async with live(host) as client:
            await client.ws.send(f'{{"type":"connection_init","payload":{_json(payload)}}}')
            assert await client.refused() == 4403, payload
    # Subscribing before connection_init is refused by the protocol (4401).
    async with live(host) as client:
        await client.subscribe()
        assert await client.closed() == 4401


def _json(value: object) -> str:
    return json.dumps(value)


async def test_a_token_that_expires_ends_the_subscription_with_4001(
    host: str, settings: Settings
) -> None:
    token = DevTokenIssuer(settings).issue("alice", ttl=timedelta(seconds=2))
    started = time.monotonic()
    async with live(host, token) as client:
        await subscribed(client)
        assert await client.closed(seconds=10) == 4001
    assert 1.0 <= time.monotonic() - started <= 8


async def test_a_stopping_server_closes_subscriptions_with_1001_before_uvicorn_does(
    settings: Settings, container: Container, tokens: Any
) -> None:
    """uvicorn closes every WebSocket with 1012 and no reason when it stops (SIGTERM sets the
    same ``should_exit`` as here); subscribed clients are told first, as the README says. A
    connection with no subscription is left to uvicorn."""
    server = served(settings, container)
    host = await server.__aenter__()
    stopped = False
    try:
        async with (
            live(host, tokens.issue("alice")) as subscriber,
            live(host, tokens.issue("bob")) as idle,
        ):
            await subscribed(subscriber)
            stopping = asyncio.create_task(server.__aexit__(None, None, None))
            stopped = True
            codes = await asyncio.gather(subscriber.closed(), idle.closed())
            await stopping
        assert list(codes) == [1001, 1012]
        assert subscriber.ws.close_reason == "server stopping, reconnect"
    finally:
        if not stopped:
            await server.__aexit__(None, None, None)


@pytest.mark.parametrize("overrides", [{"events_queue": 2}])
async def test_a_client_that_falls_behind_is_closed_not_buffered(
    host: str, container: Container, tokens: Any
) -> None:
    async with live(host, tokens.issue("alice")) as client:
        await subscribed(client)
        change = InboxChange(ChangeKind.READ, ("n1",))
        await container.events.to_members(["alice"] * 50, change)  # a burst it cannot keep up with
        assert await client.closed() == 4008


@pytest.mark.parametrize("overrides", [{"ws_ping_seconds": 0.3}])
async def test_the_server_pings_and_closes_a_client_that_never_answers(
    host: str, tokens: Any
) -> None:
    async with live(host, tokens.issue("alice")) as answering:
        await subscribed(answering)
        answering.answer_pings = False
        async with asyncio.timeout(3):
            assert await answering.message() == {"type": "ping"}
        await answering.ws.send('{"type":"pong"}')
        answering.answer_pings = True
        await answering.quiet(1.5)  # alive past several pings
        answering.answer_pings = False
        assert await answering.closed(seconds=5) == 4002


@pytest.mark.parametrize(
    "overrides", [{"ws_max_connections_per_member": 2, "ws_max_subscriptions_per_connection": 2}]
)
async def test_limits_per_member_and_connection_and_only_subscriptions(
    host: str, tokens: Any
) -> None:
    token = tokens.issue("alice")
    async with live(host, token) as first, live(host, token):
        async with live(host) as third:
            await third.ws.send(f'{{"type":"connection_init","payload":{_json({"token": token})}}}')
            assert await third.refused() == 4029
        await subscribed(first)
        await first.subscribe(op="2")
        assert (await first.event())["kind"] == "SYNC"
        await first.subscribe(op="3")
        refused = await first.message()
        assert refused["type"] == "error" and "limit" in refused["payload"][0]["message"]
        await first.subscribe("{ viewer { userId } }", op="4")
        refused = await first.message()
        assert refused["type"] == "error" and "HTTP" in refused["payload"][0]["message"]
        await first.subscribe("mutation { markAllNotificationsRead { unreadCount } }", op="5")
        assert (await first.message())["type"] == "error"


async def test_the_subscription_document_goes_through_the_same_limits(
    host: str, tokens: Any
) -> None:
    async with live(host, tokens.issue("alice")) as client:
        aliases = " ".join(f"a{i}: seq" for i in range(30))
        await client.subscribe("subscription { inboxEvents { " + aliases + " } }")
        answer = await client.message()
        assert answer["type"] == "error", answer
        await client.subscribe(EVENTS, op="2")
        assert (await client.event())["kind"] == "SYNC"


async def test_a_broker_outage_closes_subscriptions_retryably_and_http_keeps_working(
    settings: Settings, container: Container, clock: FakeClock, tokens: Any
) -> None:
    own = start_broker()
    if not own.real:
        own.stop()
        pytest.skip("needs redis-server: a stopped fakeredis keeps its connections open")
    local = settings.model_copy(update={"redis_url": SecretStr(own.url)})
    await inbox_of(container, clock, "alice", "n1", "n2")
    token = tokens.issue("alice")
    auth = {"Authorization": f"Bearer {token}"}
    try:
        async with (
            open_events(local) as events,
            served(local, replace(container, events=events)) as host,
            httpx.AsyncClient(base_url=f"http://{host}") as http,
        ):
            async with live(host, token) as client:
                await subscribed(client)
                own.stop()
                assert await client.closed() == 1013
            ready = await http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["events"] == "unavailable"
            marked = await http.post(
                "/graphql", json={"query": MARK_READ, "variables": {"ids": ["n1"]}}, headers=auth
            )
            assert marked.json() == {"data": {"markNotificationsRead": {"unreadCount": 1}}}
            async with live(host) as refused:
                await refused.ws.send(f'{{"type":"connection_init","payload":{_json(auth)}}}')
                assert await refused.refused() == 1013

            own.start()
            deadline = time.monotonic() + 15
            while (await http.get("/readyz")).json()["events"] != "ok":
                assert time.monotonic() < deadline, "the hub did not reconnect"
                await asyncio.sleep(0.2)
            async with live(host, token) as client:
                first = await subscribed(client)
                assert first["unreadCount"] == 1
                await http.post(
                    "/graphql",
                    json={"query": MARK_READ, "variables": {"ids": ["n2"]}},
                    headers=auth,
                )
                # The publisher lost an event during the outage: its first publish since makes
                # every sequence jump (a gap the client sees), then the event itself.
                gap, event = await client.event(), await client.event()
                assert (gap["kind"], gap["seq"], gap["unreadCount"]) == (
                    "UNREAD_COUNT",
                    first["seq"] + 2,
                    0,
                )
                assert (event["kind"], event["seq"], event["unreadCount"]) == (
                    "READ",
                    first["seq"] + 3,
                    0,
                )
    finally:
        own.stop()


@pytest.mark.parametrize("overrides", [{"trusted_documents_only": True}])
async def test_trusted_only_mode_serves_the_manifests_subscription_and_nothing_else(
    host: str, tokens: Any
) -> None:
    manifest = (ROOT / "config" / "operations" / "InboxEvents.graphql").read_text()
    async with live(host, tokens.issue("alice")) as client:
        await client.subscribe(EVENTS)
        refused = await client.message()
        assert refused["type"] == "error", refused
        await client.subscribe(manifest, op="2")
        assert (await client.event())["kind"] == "SYNC"


async def test_a_subscription_over_http_is_told_where_to_go(
    api: httpx.AsyncClient, tokens: Any
) -> None:
    headers = {"Authorization": f"Bearer {tokens.issue('alice')}"}
    posted = await api.post("/graphql", json={"query": EVENTS}, headers=headers)
    got = await api.get("/graphql", params={"query": EVENTS}, headers=headers)
    for response in (posted, got):
        assert response.status_code == 400 and "WebSocket" in response.text, response.text


async def test_a_broadcast_published_ahead_is_told_when_it_becomes_visible_once(
    host: str, container: Container, clock: FakeClock, tokens: Any
) -> None:
    clock.catch_up()  # the servers' timers run on the real clock
    [member] = await add_members(container, 1, rank="GOLD", prefix="gold")
    nid = await broadcast_for(container, clock.now(), audience_rule=AudienceRule.LIVE)
    await container.authoring().schedule("op", nid, clock.now() + timedelta(seconds=2))
    async with live(host, tokens.issue(member)) as client:
        start = await subscribed(client)
        await container.prepare_due().run(lambda _: None)  # published ahead (the lead)
        await client.quiet(1.0)  # not visible yet: nothing to tell
        clock.advance(timedelta(seconds=5))  # what the server will read when its timer fires
        event = await client.event(seconds=10)
        assert (event["kind"], event["ids"], event["seq"]) == ("NEW_ITEM", [nid], start["seq"] + 1)
        assert event["unreadCount"] == start["unreadCount"] + 1
        await container.prepare_due().run(lambda _: None)  # its sweep finds it told already
        await client.quiet(1.0)


async def test_a_pubsub_connection_the_broker_drops_closes_subscriptions_never_goes_quiet(
    host: str, broker: Broker, tokens: Any
) -> None:
    """A broker that kills the connection (its output-buffer limit, an admin, a proxy) must not
    be papered over by a silent reconnect: messages sent meanwhile would be missed unseen."""
    if not broker.real:
        pytest.skip("needs redis-server (CLIENT KILL)")
    async with live(host, tokens.issue("alice")) as client:
        await subscribed(client)
        admin = connect(broker.url, timeout=2.0)
        try:
            assert await admin.client_kill_filter(_type="pubsub") >= 1
        finally:
            await admin.aclose()
        assert await client.closed() == 1013
    deadline = time.monotonic() + 15
    async with httpx.AsyncClient(base_url=f"http://{host}") as http:
        while (await http.get("/readyz")).json()["events"] != "ok":
            assert time.monotonic() < deadline, "the hub did not reconnect"
            await asyncio.sleep(0.2)
    async with live(host, tokens.issue("alice")) as client:
        await subscribed(client)
