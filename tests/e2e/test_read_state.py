"""Read-state mutations over HTTP: payloads, idempotency, composition, bad input, isolation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from tests.builders import notification, publish
from tests.conftest import CallRecorder
from tests.e2e.gql import codes, gql
from tests.fakes import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PAYLOAD = "unreadCount items { id isRead readAt archivedAt }"
READ = f"mutation($ids: [ID!]!) {{ markNotificationsRead(ids: $ids) {{ {PAYLOAD} }} }}"
UNREAD = f"mutation($id: ID!) {{ markNotificationUnread(id: $id) {{ {PAYLOAD} }} }}"
READ_ALL = f"mutation($c: [String!]) {{ markAllNotificationsRead(categories: $c) {{ {PAYLOAD} }} }}"
ARCHIVE = f"mutation($ids: [ID!]!) {{ archiveNotifications(ids: $ids) {{ {PAYLOAD} }} }}"
COUNTS = """{ viewer { unreadCount news: unreadCount(categories: ["news"])
  inbox(first: 50) { unreadCount edges { node { id isRead } } } } }"""


async def _deliver(
    container: Container, clock: FakeClock, user: str, specs: list[tuple[str, str]]
) -> None:
    for index, (nid, category) in enumerate(specs):
        item = notification(
            nid, visible_from=clock.now() - timedelta(minutes=index + 1), category=category
        )
        await publish(container.notifications, container.members, item, [user], clock.now())


def _data(body: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"][field]
    return result


async def test_mark_read_is_idempotent_and_ignores_what_is_not_mine(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    await _deliver(container, clock, "alice", [("a1", "news"), ("a2", "news"), ("a3", "campaign")])
    await _deliver(container, clock, "bob", [("b1", "news")])
    token = tokens.issue("alice")

    ids = ["a1", "a3", "b1", "nope"]
    first = _data(await gql(api, READ, {"ids": ids}, token=token), "markNotificationsRead")
    assert first["unreadCount"] == 1
    assert [(i["id"], i["isRead"]) for i in first["items"]] == [("a1", True), ("a3", True)]
    assert all(i["readAt"] for i in first["items"])
    again = _data(await gql(api, READ, {"ids": ids}, token=token), "markNotificationsRead")
    assert again == first

    bob = await gql(api, COUNTS, token=tokens.issue("bob"))
    assert bob["data"]["viewer"]["unreadCount"] == 1, "bob's notification is untouched"


async def test_mark_unread_and_mark_all_compose(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    await _deliver(container, clock, "alice", [("n1", "news"), ("n2", "news"), ("c1", "campaign")])
    token = tokens.issue("alice")

    news = _data(await gql(api, READ_ALL, {"c": ["news"]}, token=token), "markAllNotificationsRead")
    assert news["unreadCount"] == 1
    unread = _data(await gql(api, UNREAD, {"id": "n2"}, token=token), "markNotificationUnread")
    assert unread["unreadCount"] == 2
    assert unread["items"] == [{"id": "n2", "isRead": False, "readAt": None, "archivedAt": None}]

    # Delivered after the mark-all: unread, whatever its visibleFrom.
    clock.advance(timedelta(minutes=1))
    late = notification("late", visible_from=clock.now() - timedelta(hours=3), category="news")
    await publish(container.notifications, container.members, late, ["alice"], clock.now())
    counts = (await gql(api, COUNTS, token=token))["data"]["viewer"]
    assert (counts["unreadCount"], counts["news"]) == (3, 2)
    states = {e["node"]["id"]: e["node"]["isRead"] for e in counts["inbox"]["edges"]}
    assert states == {"n1": True, "n2": False, "c1": False, "late": False}

    everything = _data(
        await gql(api, READ_ALL, {"c": None}, token=token), "markAllNotificationsRead"
    )
    assert everything["unreadCount"] == 0
    read = _data(await gql(api, READ, {"ids": ["n1"]}, token=token), "markNotificationsRead")
    assert read["items"][0]["readAt"] is not None


async def test_mark_all_is_one_write_whatever_the_inbox_size(
    api: httpx.AsyncClient,
    container: Container,
    clock: FakeClock,
    tokens: DevTokenIssuer,
    dynamo_calls: CallRecorder,
) -> None:
    await _deliver(container, clock, "alice", [(f"n{i:03d}", "news") for i in range(150)])
    dynamo_calls.reset()
    body = await gql(api, READ_ALL, {"c": None}, token=tokens.issue("alice"))
    assert _data(body, "markAllNotificationsRead")["unreadCount"] == 0
    writes = [
        op
        for op in dynamo_calls.operations
        if op in {"TransactWriteItems", "UpdateItem", "PutItem", "BatchWriteItem"}
    ]
    assert writes == ["UpdateItem"], dynamo_calls.operations


async def test_archive_hides_from_lists_and_counts(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    await _deliver(container, clock, "alice", [("keep", "news"), ("away", "news")])
    token = tokens.issue("alice")
    archived = _data(
        await gql(api, ARCHIVE, {"ids": ["away"]}, token=token), "archiveNotifications"
    )
    assert archived["unreadCount"] == 1
    assert archived["items"][0]["archivedAt"] is not None
    counts = (await gql(api, COUNTS, token=token))["data"]["viewer"]
    assert [e["node"]["id"] for e in counts["inbox"]["edges"]] == ["keep"]
    listed = await gql(
        api,
        "{ viewer { inbox(filter: {includeArchived: true}) {"
        " edges { node { id archivedAt } } } } }",
        token=token,
    )
    ids = [e["node"]["id"] for e in listed["data"]["viewer"]["inbox"]["edges"]]
    assert ids == ["keep", "away"]
    # Marking an archived item unread changes nothing.
    unread = _data(await gql(api, UNREAD, {"id": "away"}, token=token), "markNotificationUnread")
    assert unread["unreadCount"] == 1


async def test_bad_input_and_no_token_change_nothing(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    await _deliver(container, clock, "alice", [("n1", "news")])
    token = tokens.issue("alice")
    too_many = await gql(api, READ, {"ids": [f"x{i}" for i in range(101)]}, token=token)
    assert codes(too_many) == ["BAD_USER_INPUT"]
    assert too_many["errors"][0]["extensions"]["field"] == "ids"
    for query, variables in (
        (READ, {"ids": ["n1"]}),
        (READ_ALL, {"c": None}),
        (ARCHIVE, {"ids": ["n1"]}),
    ):
        anonymous = await gql(api, query, variables)
        assert codes(anonymous) == ["UNAUTHENTICATED"]
    counts = (await gql(api, COUNTS, token=token))["data"]["viewer"]
    assert counts["unreadCount"] == 1


async def test_mutations_are_refused_over_get(
    api: httpx.AsyncClient, tokens: DevTokenIssuer
) -> None:
    response = await api.get(
        "/graphql",
        params={"query": "mutation { markAllNotificationsRead { unreadCount } }"},
        headers={"Authorization": f"Bearer {tokens.issue('alice')}"},
    )
    assert response.status_code in (400, 405)


async def test_reads_are_counted_once_per_member_and_notification(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    item = notification("hot", visible_from=clock.now() - timedelta(minutes=1))
    members = [f"m{i}" for i in range(12)]
    await publish(container.notifications, container.members, item, members, clock.now())
    for member in members:
        token = tokens.issue(member)
        await gql(api, READ, {"ids": ["hot"]}, token=token)
        await gql(api, READ, {"ids": ["hot"]}, token=token)  # a retried mutation
    # One member reads, unreads and reads again: still one reader.
    token = tokens.issue("m0")
    await gql(api, UNREAD, {"id": "hot"}, token=token)
    await gql(api, READ_ALL, {"c": None}, token=token)
    for member in members:
        await container.read_stats.count_pending_reads(member)
        await container.read_stats.count_pending_reads(member)
    assert await container.read_stats.read_counts(["hot"]) == {"hot": 12}
