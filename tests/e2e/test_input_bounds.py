"""Every input has a bound, enforced before any read or write (docs/SECURITY.md has the table):
what a hostile member sends is BAD_USER_INPUT or a 400, never a 500 and never a write."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.domain.pointclub import LedgerEntry, PointEntryKind
from core.settings import Settings
from resolvers.app import PointclubGraphQL, public_schema
from tests.builders import notification, publish
from tests.conftest import CallRecorder
from tests.e2e.gql import codes, gql
from tests.fakes import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

READ = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { unreadCount } }"
UNREAD = "mutation($id: ID!) { markNotificationUnread(id: $id) { unreadCount } }"
ARCHIVE = "mutation($ids: [ID!]!) { archiveNotifications(ids: $ids) { unreadCount } }"
READ_ALL = "mutation($c: [String!]) { markAllNotificationsRead(categories: $c) { unreadCount } }"
ONE = "query($id: ID!) { viewer { notification(id: $id) { id } } }"
COUNT = "query($c: [String!]) { viewer { unreadCount(categories: $c) } }"
PAGE = """query($c: [String!], $after: String) { viewer {
  inbox(first: 100, after: $after, filter: {categories: $c}) {
    unreadCount edges { node { id } } pageInfo { hasNextPage endCursor } } } }"""


async def deliver(container: Container, clock: FakeClock, user: str, specs: list[str]) -> None:
    for index, category in enumerate(specs):
        nid = f"{user}-{index:04d}"
        item = notification(
            nid, visible_from=clock.now() - timedelta(minutes=index + 1), category=category
        )
        await publish(container.notifications, container.members, item, [user], clock.now())


def refused(body: dict[str, Any], field: str) -> None:
    assert body["data"] is None, body
    assert codes(body) == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["extensions"]["field"] == field


async def test_categories_are_the_configured_ones_and_an_empty_list_is_none(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    await deliver(container, clock, "alice", ["news", "news", "campaign"])
    token = tokens.issue("alice")
    state_before = await container.members.inbox_state("alice")

    # What stalled delivery for everyone: category names that grow the member's state item.
    for categories in (["x" * 1200], ["news", "nope"], [""]):
        refused(await gql(api, READ_ALL, {"c": categories}, token=token), "categories")
        refused(await gql(api, COUNT, {"c": categories}, token=token), "categories")
        refused(await gql(api, PAGE, {"c": categories}, token=token), "categories")
    assert await container.members.inbox_state("alice") == state_before

    empty = await gql(api, PAGE, {"c": []}, token=token)
    assert empty["data"]["viewer"]["inbox"] == {
        "unreadCount": 0,
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }
    assert (await gql(api, COUNT, {"c": []}, token=token))["data"]["viewer"]["unreadCount"] == 0
    nothing = await gql(api, READ_ALL, {"c": []}, token=token)
    assert nothing["data"]["markAllNotificationsRead"]["unreadCount"] == 3
    assert await container.members.inbox_state("alice") == state_before
    news = await gql(api, READ_ALL, {"c": ["news"]}, token=token)
    assert news["data"]["markAllNotificationsRead"]["unreadCount"] == 1


@pytest.mark.parametrize(
    "bad_id", ["x" * 301, "x" * 3000, "", "a b", "ü", "id/with/slashes"], ids=repr
)
async def test_ids_that_cannot_be_notifications_are_refused_before_any_read(
    api: httpx.AsyncClient, tokens: DevTokenIssuer, dynamo_calls: CallRecorder, bad_id: str
) -> None:
    token = tokens.issue("alice")
    dynamo_calls.reset()
    refused(await gql(api, READ, {"ids": ["ok-id", bad_id]}, token=token), "ids")
    refused(await gql(api, ARCHIVE, {"ids": [bad_id]}, token=token), "ids")
    refused(await gql(api, UNREAD, {"id": bad_id}, token=token), "id")
    one = await gql(api, ONE, {"id": bad_id}, token=token)
    assert codes(one) == ["BAD_USER_INPUT"], one
    assert dynamo_calls.operations == []


async def test_admin_ids_are_bounded_too(api: httpx.AsyncClient, tokens: DevTokenIssuer) -> None:
    token = tokens.issue("op", admin=True)
    for query, variables in (
        ("query($id: ID!) { notification(id: $id) { id } }", {"id": "n" * 5000}),
        ("query($u: ID!) { member(userId: $u) { balance } }", {"u": "u" * 5000}),
        (
            'mutation($id: ID!) { recallNotification(id: $id, reason: "x") '
            "{ userErrors { field code } } }",
            {"id": "n" * 5000},
        ),
    ):
        body = await gql(api, query, variables, token=token, path="/admin/graphql")
        assert "INTERNAL_SERVER_ERROR" not in codes(body), body
        assert codes(body) == ["BAD_USER_INPUT"] or body["data"]["recallNotification"][
            "userErrors"
        ] == [{"field": "id", "code": "BAD_USER_INPUT"}], body


@pytest.mark.parametrize(
    "body",
    [
        b'"x"',
        b"[1, 2]",
        b"42",
        b"null",
        b'{"query": "{ viewer { userId } }", "operationName": "x\xed\xa0\x80"}',
        b'{"query": "\xff"}',
        b'{"query": "{ viewer { userId } }", "variables": {"c": ["\\ud800"]}}',
        b'{"query": "query($i: [ID!]!) { viewer { userId } }", "variables": {"i": ["\\udc00x"]}}',
    ],
    ids=[
        "string",
        "list",
        "number",
        "null",
        "an encoded surrogate",
        "not UTF-8",
        "lone high surrogate",
        "lone low surrogate",
    ],
)
async def test_a_body_that_is_not_a_json_object_of_valid_text_is_400(
    api: httpx.AsyncClient, tokens: DevTokenIssuer, body: bytes
) -> None:
    answer = await api.post(
        "/graphql",
        content=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {tokens.issue('a')}",
        },
    )
    assert answer.status_code == 400, answer.text


async def test_a_surrogate_pair_is_valid_text(
    api: httpx.AsyncClient, tokens: DevTokenIssuer
) -> None:
    # An emoji as JSON encoders with ensure_ascii write it: a high and a low surrogate escape.
    body = (
        b'{"query": "query($c: [String!]) { viewer { unreadCount(categories: $c) } }", '
        b'"variables": {"c": ["\\ud83d\\ude00"]}}'
    )
    answer = await api.post(
        "/graphql",
        content=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {tokens.issue('a')}",
        },
    )
    assert answer.status_code == 200
    assert codes(answer.json()) == ["BAD_USER_INPUT"]  # not a category, but read as the emoji
    assert "😀" in answer.json()["errors"][0]["message"]


def test_text_that_cannot_be_encoded_is_answered_not_500(settings: Settings) -> None:
    """Text no store should hold (a lone surrogate, stored before the door checked it, or by
    another writer) is answered with a replacement character instead of failing the response.
    (DynamoDB Local stores such a string; moto refuses it, so this goes through the encoder.)"""
    view = PointclubGraphQL(settings, public_schema(), allow_get=True)
    body = view.encode_json({"data": {"description": "bad \ud800 text"}})
    assert json.loads(body) == {"data": {"description": "bad ? text"}}


async def test_a_page_skipping_hidden_entries_does_bounded_work_and_pages_on(
    api: httpx.AsyncClient,
    container: Container,
    clock: FakeClock,
    tokens: DevTokenIssuer,
    dynamo_calls: CallRecorder,
) -> None:
    # 600 news entries, and 3 rank entries among the oldest: a filtered page must walk far.
    specs = ["news"] * 600
    for index in (550, 580, 599):
        specs[index] = "rank"
    await deliver(container, clock, "alice", specs)
    token = tokens.issue("alice")

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        dynamo_calls.reset()
        body = await gql(api, PAGE, {"c": ["rank"], "after": after}, token=token)
        assert "errors" not in body, body
        queries = dynamo_calls.operations.count("Query")
        assert queries <= 4, dynamo_calls.operations  # MAX_SCANS
        inbox = body["data"]["viewer"]["inbox"]
        assert inbox["unreadCount"] == 3
        seen += [edge["node"]["id"] for edge in inbox["edges"]]
        pages += 1
        if not inbox["pageInfo"]["hasNextPage"]:
            break
        after = inbox["pageInfo"]["endCursor"]
        assert after is not None
    assert seen == ["alice-0550", "alice-0580", "alice-0599"]
    assert pages > 1


async def test_history_pages_through_every_entry_id_an_import_accepts(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    ids = ["pay@shop:1", "a.b_c-d", "X@Y@Z", "0" * 128]
    entries = [
        LedgerEntry(entry_id, PointEntryKind.ADJUSTED, 1, clock.now() - timedelta(hours=n))
        for n, entry_id in enumerate(ids)
    ]
    await container.ledger.put_ledger("alice", entries)
    query = """query($after: String) { viewer { pointClub { history(first: 1, after: $after) {
      edges { node { id } } pageInfo { hasNextPage endCursor } } } } }"""
    seen: list[str] = []
    after = None
    while True:
        body = await gql(api, query, {"after": after}, token=tokens.issue("alice"))
        assert "errors" not in body, body
        history = body["data"]["viewer"]["pointClub"]["history"]
        seen += [edge["node"]["id"] for edge in history["edges"]]
        if not history["pageInfo"]["hasNextPage"]:
            break
        after = history["pageInfo"]["endCursor"]
    assert seen == ids
