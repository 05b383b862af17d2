"""The member's home screen over HTTP: budget of DynamoDB calls, paging, isolation, errors."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container, build_container
from core.domain.missions import GoalKind, MissionGoal
from core.domain.notification import NotificationPatch
from core.domain.notification_draft import Audience, AudienceKind, LocalizedContent
from core.domain.pointclub import ClubRecord
from core.settings import Settings
from core.usecases.missions import MissionDraft
from tests.builders import broadcast_for, draft, notification, publish, user_list
from tests.conftest import CallRecorder
from tests.e2e.gql import HOME, app_client, codes, gql
from tests.fakes import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def _fill_inbox(container: Container, clock: FakeClock, user: str, count: int) -> list[str]:
    ids = []
    for index in range(count):
        nid = f"n{index:04d}"
        item = notification(nid, visible_from=clock.now() - timedelta(minutes=count - index))
        await publish(container.notifications, container.members, item, [user], clock.now())
        ids.append(nid)
    return ids


async def _broadcast(container: Container, clock: FakeClock) -> str:
    """A notification to every member, published (stored once)."""
    nid = await broadcast_for(container, clock.now())
    report = await container.prepare_notification().run(nid)
    assert report.broadcast
    return nid


async def _mission_in_progress(container: Container, clock: FakeClock, user: str) -> str:
    """A running EVENT mission (in the live list) the member has made progress in."""
    assert container.missions is not None
    goal = MissionGoal(GoalKind.EVENT, 3, "watched-video")
    content = {"ja": LocalizedContent("動画を3本見る", "動画を見てポイントを獲得")}
    draft = MissionDraft(
        content, goal, clock.now() - timedelta(hours=1), clock.now() + timedelta(days=7), 10, 30
    )
    mission = await container.missions.create("operator", draft)
    events = [("home-ev-1", "fp", clock.now())]
    await container.missions.store.record_events(user, events, "run", {mission.mission_id: 1})
    return mission.mission_id


@pytest.mark.parametrize("broadcasts", [0, 10, 100])
@pytest.mark.parametrize("first", [1, 20, 100])
async def test_home_screen_costs_at_most_three_calls_in_two_rounds(
    api: httpx.AsyncClient,
    container: Container,
    clock: FakeClock,
    tokens: DevTokenIssuer,
    dynamo_calls: CallRecorder,
    first: int,
    broadcasts: int,
) -> None:
    await container.ledger.put_club("alice", ClubRecord.joined("GOLD", clock.now()))
    await _fill_inbox(container, clock, "alice", 130)
    for _ in range(broadcasts):
        await _broadcast(container, clock)
    mission = await _mission_in_progress(container, clock, "alice")
    token = tokens.issue("alice")
    dynamo_calls.reset()

    body = await gql(api, HOME, {"first": first}, token=token)

    assert "errors" not in body, body
    edges = body["data"]["viewer"]["inbox"]["edges"]
    assert len(edges) == first
    assert body["data"]["viewer"]["unreadCount"] == 130 + broadcasts
    missions = body["data"]["viewer"]["pointClub"]["missions"]["edges"]
    assert [(m["node"]["id"], m["node"]["progress"]) for m in missions] == [(mission, 1)]
    assert len(dynamo_calls.calls) <= 3, dynamo_calls.operations
    assert dynamo_calls.sequential_rounds() <= 2, dynamo_calls.operations
    assert sorted(dynamo_calls.operations) == ["BatchGetItem", "GetItem", "Query"]


async def _home(
    api: httpx.AsyncClient, token: str, calls: CallRecorder
) -> tuple[dict[str, Any], list[str]]:
    """One home screen (first 20) and the DynamoDB calls it made, sorted."""
    calls.reset()
    body = await gql(api, HOME, {"first": 20}, token=token)
    assert "errors" not in body, body
    return body, sorted(calls.operations)


def _titles(body: dict[str, Any]) -> dict[str, str]:
    return {e["node"]["id"]: e["node"]["title"] for e in body["data"]["viewer"]["inbox"]["edges"]}


async def test_a_warm_home_screen_skips_the_notification_items_and_still_shows_amends_at_once(
    api: httpx.AsyncClient,
    settings: Settings,
    container: Container,
    clock: FakeClock,
    tokens: DevTokenIssuer,
    dynamo_calls: CallRecorder,
) -> None:
    await container.ledger.put_club("alice", ClubRecord.joined("GOLD", clock.now()))
    own = await _fill_inbox(container, clock, "alice", 5)
    everyone = await _broadcast(container, clock)
    token = tokens.issue("alice")

    cold, calls = await _home(api, token, dynamo_calls)
    assert calls == ["BatchGetItem", "GetItem", "Query"] and len(_titles(cold)) == 6
    # The shared cache answers the page's notifications: no third call.
    assert await _home(api, token, dynamo_calls) == (cold, ["GetItem", "Query"])

    # A fan-out to someone else (a mission notice, a campaign) changes nothing alice sees: her
    # server's cache still answers.
    await user_list(container, "just-bob", ["bob"])
    audience = Audience(AudienceKind.SEGMENT, segment="just-bob")
    to_bob = await container.authoring().create("op", draft(audience, clock.now()))
    assert (await container.prepare_notification().run(to_bob.notification_id)).delivered == 1
    assert await _home(api, token, dynamo_calls) == (cold, ["GetItem", "Query"])

    # Another process (the admin server, a CLI job: its own store and cache) amends one of
    # alice's own notifications and the broadcast; this server shows both on its next read.
    assert container.client is not None
    elsewhere = build_container(settings, container.client, clock=clock)
    for nid in (own[-1], everyone):
        patch = NotificationPatch(contents={"ja": LocalizedContent(f"改訂 {nid}", "本文")})
        await elsewhere.authoring().update("op", nid, patch)
    body, calls = await _home(api, token, dynamo_calls)
    amended = _titles(body)
    assert amended[own[-1]] == f"改訂 {own[-1]}" and amended[everyone] == f"改訂 {everyone}"
    assert calls == ["BatchGetItem", "GetItem", "Query"]

    # A recall, from elsewhere too: gone from the next read, and from the count.
    await elsewhere.authoring().recall("op", own[0], "sent by mistake")
    body, _ = await _home(api, token, dynamo_calls)
    assert own[0] not in _titles(body)
    assert body["data"]["viewer"]["unreadCount"] == 5


async def test_with_the_content_cache_turned_off_every_home_screen_reads_the_items(
    settings: Settings,
    container: Container,
    clock: FakeClock,
    tokens: DevTokenIssuer,
    dynamo_calls: CallRecorder,
) -> None:
    await _fill_inbox(container, clock, "alice", 3)
    assert container.client is not None
    off = settings.model_copy(update={"content_cache_items": 0})
    uncached = build_container(off, container.client, clock=clock)
    token = tokens.issue("alice")
    async with app_client(off, uncached) as api:
        for _ in range(2):
            body, calls = await _home(api, token, dynamo_calls)
            assert len(_titles(body)) == 3 and calls == ["BatchGetItem", "GetItem", "Query"]


async def test_paging_while_new_notifications_arrive_sees_each_earlier_one_once(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    earlier = await _fill_inbox(container, clock, "alice", 45)
    token = tokens.issue("alice")
    query = """
    query Page($after: String) {
      viewer { inbox(first: 7, after: $after) {
        edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }
    }"""
    seen: list[str] = []
    after = None
    for page in range(20):
        body = await gql(api, query, {"after": after}, token=token)
        connection = body["data"]["viewer"]["inbox"]
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        # Deliver a new notification between pages: it lands above every cursor.
        clock.advance(timedelta(seconds=1))
        fresh = notification(f"fresh{page:02d}", visible_from=clock.now())
        await publish(container.notifications, container.members, fresh, ["alice"], clock.now())
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    older = [nid for nid in seen if not nid.startswith("fresh")]
    assert sorted(older) == sorted(earlier)
    assert len(older) == len(set(older))


async def test_a_member_sees_nothing_of_another_member(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    now = clock.now()
    mine = notification("for-alice", visible_from=now - timedelta(hours=1), category="news")
    theirs = notification("for-bob", visible_from=now - timedelta(hours=2), category="news")
    both = notification("for-both", visible_from=now - timedelta(hours=3), category="campaign")
    await publish(container.notifications, container.members, mine, ["alice"], now)
    await publish(container.notifications, container.members, theirs, ["bob"], now)
    await publish(container.notifications, container.members, both, ["alice", "bob"], now)
    query = """
    query Everything($id: ID!) {
      viewer {
        userId
        unreadCount
        news: unreadCount(categories: ["news"])
        all: inbox(first: 100, filter: {includeArchived: true}) {
          unreadCount edges { node { id } }
        }
        unread: inbox(first: 100, filter: {unreadOnly: true}) { edges { node { id } } }
        notification(id: $id) { id }
        pointClub { balance history(first: 100) { edges { node { id } } } }
      }
    }"""
    body = await gql(api, query, {"id": "for-bob"}, token=tokens.issue("alice"))

    viewer = body["data"]["viewer"]
    assert viewer["userId"] == "alice"
    assert viewer["notification"] is None
    assert {e["node"]["id"] for e in viewer["all"]["edges"]} == {"for-alice", "for-both"}
    assert {e["node"]["id"] for e in viewer["unread"]["edges"]} == {"for-alice", "for-both"}
    assert viewer["unreadCount"] == 2
    assert viewer["news"] == 1
    assert "for-bob" not in str(body)


async def test_missing_or_bad_tokens_get_unauthenticated_and_no_data(
    api: httpx.AsyncClient, settings: object, tokens: DevTokenIssuer
) -> None:
    query = "{ viewer { userId unreadCount } }"
    expired = tokens.issue("alice", ttl=timedelta(seconds=-120))
    forged = tokens.issue("alice")[:-4] + "AAAA"
    for headers in (
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {forged}"},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
    ):
        body = await gql(api, query, headers=headers)
        assert body["data"] is None, headers
        assert codes(body) == ["UNAUTHENTICATED"], headers


async def test_bad_paging_arguments_are_bad_user_input(
    api: httpx.AsyncClient, tokens: DevTokenIssuer
) -> None:
    token = tokens.issue("alice")
    for first in (0, 101, -1):
        body = await gql(
            api,
            "query($f: Int){ viewer { inbox(first: $f) { unreadCount } } }",
            {"f": first},
            token=token,
        )
        assert codes(body) == ["BAD_USER_INPUT"], first
        assert body["errors"][0]["extensions"]["field"] == "first"
    for cursor in ("garbage", "YzE6bm90LWEtcG9zaXRpb24", ""):
        body = await gql(
            api,
            "query($a: String){ viewer { inbox(after: $a) { unreadCount } } }",
            {"a": cursor},
            token=token,
        )
        assert codes(body) == ["BAD_USER_INPUT"], cursor
    body = await gql(
        api,
        "{ viewer { pointClub { history(first: 500) { pageInfo { hasNextPage } } } } }",
        token=token,
    )
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_content_follows_accept_language_then_the_token_locale_then_japanese(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    item = notification("hello", visible_from=clock.now(), ja="こんにちは", en="Hello")
    await publish(container.notifications, container.members, item, ["alice"], clock.now())
    query = "{ viewer { inbox(first: 1) { edges { node { title } } } } }"

    async def title(token: str, headers: dict[str, str] | None = None) -> str:
        response = await api.post(
            "/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
        )
        assert "こんにちは".encode() in response.content or b"Hello" in response.content
        edges = response.json()["data"]["viewer"]["inbox"]["edges"]
        return str(edges[0]["node"]["title"])

    plain, english = tokens.issue("alice"), tokens.issue("alice", locale="en")
    assert await title(plain) == "こんにちは"
    assert await title(plain, {"Accept-Language": "en-US,en;q=0.9,ja;q=0.5"}) == "Hello"
    assert await title(plain, {"Accept-Language": "fr, ja;q=0.1"}) == "こんにちは"
    assert await title(english) == "Hello"
    assert await title(english, {"Accept-Language": "ja"}) == "こんにちは"


async def test_expected_errors_are_not_logged_as_failures(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        body = await gql(api, "{ viewer { userId } }")
    assert codes(body) == ["UNAUTHENTICATED"]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_paging_while_broadcasts_and_own_notifications_arrive_sees_each_earlier_once(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    """The inbox is the merge of the member's own entries and the broadcasts: a cursor is a
    position in both, so nothing earlier is skipped or repeated while either kind arrives, and
    acting on a broadcast (which writes the member's own copy at the same position) moves
    nothing either."""
    await container.ledger.put_club("alice", ClubRecord.joined("GOLD", clock.now()))
    earlier: list[str] = []
    for index in range(24):
        clock.advance(timedelta(seconds=1))
        if index % 3 == 0:
            earlier.append(await _broadcast(container, clock))
        else:
            nid = f"own{index:02d}"
            item = notification(nid, visible_from=clock.now())
            await publish(container.notifications, container.members, item, ["alice"], clock.now())
            earlier.append(nid)
    token = tokens.issue("alice")
    query = """
    query Page($after: String) {
      viewer { unreadCount inbox(first: 5, after: $after) {
        edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }
    }"""
    read = """mutation Read($ids: [ID!]!) { markNotificationsRead(ids: $ids) { unreadCount } }"""
    seen: list[str] = []
    after = None
    for page in range(20):
        body = await gql(api, query, {"after": after}, token=token)
        assert "errors" not in body, body
        connection = body["data"]["viewer"]["inbox"]
        ids = [edge["node"]["id"] for edge in connection["edges"]]
        seen += ids
        # Between pages: the member reads what they saw, and one of each kind arrives above.
        done = await gql(api, read, {"ids": ids}, token=token)
        assert "errors" not in done, done
        clock.advance(timedelta(seconds=1))
        await _broadcast(container, clock)
        fresh = notification(f"fresh{page:02d}", visible_from=clock.now())
        await publish(container.notifications, container.members, fresh, ["alice"], clock.now())
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    older = [nid for nid in seen if nid in set(earlier)]
    assert older == sorted(earlier, key=earlier.index, reverse=True), "newest first, each once"
    assert [nid for nid in seen if nid not in set(earlier)] == []
