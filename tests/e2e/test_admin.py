"""The admin API over HTTP: authoring, state transitions, amend and recall as members see them,
segments, listings, idempotency, validation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.domain.notification import AuditRecord, NotificationState
from core.domain.pointclub import ClubRecord
from tests.builders import entry_for
from tests.e2e.gql import codes, gql
from tests.fakes import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FIELDS = """id state category priority url imageUrl visibleFrom expiresAt createdAt createdBy
  contents { locale title body } audience { kind userId segment }
  stats { targeted delivered read readRate } audit { actor action detail }"""
PAYLOAD = f"notification {{ {FIELDS} }} userErrors {{ field message code }}"
CREATE = f"""mutation($input: NotificationInput!, $key: String) {{
  createNotification(input: $input, idempotencyKey: $key) {{ {PAYLOAD} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: NotificationUpdateInput!) {{
  updateNotification(id: $id, input: $input) {{ {PAYLOAD} }} }}"""
SCHEDULE = f"""mutation($id: ID!, $at: DateTime!) {{
  scheduleNotification(id: $id, visibleFrom: $at) {{ {PAYLOAD} }} }}"""
RECALL = f"""mutation($id: ID!, $reason: String!) {{
  recallNotification(id: $id, reason: $reason) {{ {PAYLOAD} }} }}"""
SEGMENT = """mutation($input: SegmentInput!) {
  createSegment(input: $input) { segment { name size rule { kind ranks } createdBy }
  userErrors { field message code } } }"""


def draft(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "category": "campaign",
        "priority": "HIGH",
        "contents": [
            {"locale": "ja", "title": "秋のキャンペーン", "body": "ポイント2倍"},
            {"locale": "en", "title": "Autumn campaign", "body": "Double points"},
        ],
        "audience": {"kind": "USER", "userId": "alice"},
        "url": "https://example.com/autumn",
    }
    value.update(overrides)
    return value


async def admin(
    api: httpx.AsyncClient, tokens: DevTokenIssuer, query: str, **variables: Any
) -> Any:
    body = await gql(
        api, query, variables, token=tokens.issue("operator-1", admin=True), path="/admin/graphql"
    )
    assert "errors" not in body, body
    (result,) = body["data"].values()
    return result


async def test_create_validates_every_field_an_operator_can_get_wrong(
    api: httpx.AsyncClient, tokens: DevTokenIssuer
) -> None:
    bad = draft(
        category="lottery",
        contents=[{"locale": "en", "title": "x" * 121, "body": ""}],
        audience={"kind": "SEGMENT", "segment": "nobody"},
        url="http://example.com/plain",
        imageUrl="javascript:alert(1)",
        visibleFrom="2026-12-10T00:00:00+09:00",
        expiresAt="2026-12-01T00:00:00+09:00",
    )
    result = await admin(api, tokens, CREATE, input=bad)
    assert result["notification"] is None
    fields = {error["field"] for error in result["userErrors"]}
    assert fields == {
        "category",
        "contents",
        "contents.en.title",
        "contents.en.body",
        "url",
        "imageUrl",
        "expiresAt",
        "audience.segment",
    }
    assert {error["code"] for error in result["userErrors"]} == {"BAD_USER_INPUT"}


async def test_idempotency_key_replays_and_conflicts(
    api: httpx.AsyncClient, tokens: DevTokenIssuer
) -> None:
    first = await admin(api, tokens, CREATE, input=draft(), key="campaign-2026-11")
    again = await admin(api, tokens, CREATE, input=draft(), key="campaign-2026-11")
    assert first["notification"]["id"] == again["notification"]["id"]
    assert again["userErrors"] == []
    other = await admin(api, tokens, CREATE, input=draft(category="news"), key="campaign-2026-11")
    assert other["notification"] is None
    assert [e["code"] for e in other["userErrors"]] == ["CONFLICT"]
    listed = await admin(api, tokens, "{ notifications(first: 50) { edges { node { id } } } }")
    assert len(listed["edges"]) == 1


async def test_lifecycle_amend_and_recall_as_a_member_sees_them(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    created = (await admin(api, tokens, CREATE, input=draft()))["notification"]
    nid = created["id"]
    assert created["state"] == "DRAFT" and created["createdBy"] == "operator-1"
    assert [a["action"] for a in created["audit"]] == ["create"]

    updated = await admin(api, tokens, UPDATE, id=nid, input={"category": "news"})
    assert updated["notification"]["category"] == "news"
    assert updated["notification"]["contents"] == created["contents"]  # left out: unchanged
    assert updated["notification"]["url"] == created["url"]
    assert updated["notification"]["audit"][-1]["detail"] == "changed: category"
    at = (clock.now() + timedelta(hours=1)).isoformat()
    scheduled = await admin(api, tokens, SCHEDULE, id=nid, at=at)
    assert scheduled["notification"]["state"] == "SCHEDULED"
    assert scheduled["notification"]["visibleFrom"] is not None
    listed = await admin(
        api, tokens, "{ notifications(state: SCHEDULED) { edges { node { id state } } } }"
    )
    assert [edge["node"]["id"] for edge in listed["edges"]] == [nid]

    await _publish_to(container, clock, nid, "alice")
    clock.advance(timedelta(hours=2))
    member = tokens.issue("alice", locale="en")
    inbox = "{ viewer { unreadCount inbox { edges { node { id title } } } } }"
    seen = (await gql(api, inbox, token=member))["data"]["viewer"]
    assert seen["unreadCount"] == 1
    assert seen["inbox"]["edges"][0]["node"]["title"] == "Autumn campaign"

    amended_contents = [
        {"locale": "ja", "title": "訂正：秋のキャンペーン", "body": "ポイント3倍"},
        {"locale": "en", "title": "Corrected: autumn campaign", "body": "Triple points"},
    ]
    # An operator fixing a typo sends the content alone; nothing else moves.
    published_input = {"contents": amended_contents}
    amended = await admin(api, tokens, UPDATE, id=nid, input=published_input)
    assert amended["userErrors"] == [], amended
    after = amended["notification"]
    assert after["audit"][-1]["action"] == "amend"
    assert after["audit"][-1]["detail"] == "changed: contents"
    assert after["visibleFrom"] == scheduled["notification"]["visibleFrom"]
    assert (after["category"], after["url"], after["expiresAt"]) == ("news", created["url"], None)
    seen = (await gql(api, inbox, token=member))["data"]["viewer"]
    assert seen["inbox"]["edges"][0]["node"]["title"] == "Corrected: autumn campaign"
    japanese = tokens.issue("alice", locale="ja")
    seen = (await gql(api, inbox, token=japanese))["data"]["viewer"]
    assert seen["inbox"]["edges"][0]["node"]["title"] == "訂正：秋のキャンペーン"

    # What decides who gets it and when is frozen once published; sending it unchanged is fine.
    moved = await admin(api, tokens, UPDATE, id=nid, input={"category": "point"})
    assert [(e["field"], e["code"]) for e in moved["userErrors"]] == [
        ("category", "BAD_USER_INPUT")
    ]
    same = await admin(
        api, tokens, UPDATE, id=nid, input={"category": "news", "contents": amended_contents}
    )
    assert same["userErrors"] == []
    cleared = await admin(api, tokens, UPDATE, id=nid, input={"visibleFrom": None})
    assert [e["field"] for e in cleared["userErrors"]] == ["visibleFrom"]

    recalled = await admin(api, tokens, RECALL, id=nid, reason="wrong rate")
    assert recalled["notification"]["state"] == "RECALLED"
    assert recalled["notification"]["audit"][-1] == {
        "actor": "operator-1",
        "action": "recall",
        "detail": "wrong rate",
    }
    seen = (await gql(api, inbox, token=member))["data"]["viewer"]
    assert seen == {"unreadCount": 0, "inbox": {"edges": []}}

    for query, variables in (
        (UPDATE, {"id": nid, "input": published_input}),
        (RECALL, {"id": nid, "reason": "again"}),
        (SCHEDULE, {"id": nid, "at": at}),
    ):
        refused = await admin(api, tokens, query, **variables)
        assert [e["code"] for e in refused["userErrors"]] == ["CONFLICT"]
    missing = await admin(api, tokens, RECALL, id="no-such-id", reason="x")
    assert [e["code"] for e in missing["userErrors"]] == ["NOT_FOUND"]


async def test_update_is_a_patch_null_clears_and_only_where_allowed(
    api: httpx.AsyncClient, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    expires = (clock.now() + timedelta(days=3)).isoformat()
    created = await admin(
        api, tokens, CREATE, input=draft(expiresAt=expires, imageUrl="https://example.com/i.png")
    )
    nid = created["notification"]["id"]
    assert created["notification"]["expiresAt"] is not None

    cleared = await admin(api, tokens, UPDATE, id=nid, input={"expiresAt": None})
    assert cleared["userErrors"] == []
    after = cleared["notification"]
    assert after["expiresAt"] is None
    assert after["imageUrl"] == "https://example.com/i.png"  # left out: kept
    assert after["contents"] == created["notification"]["contents"]
    assert after["audit"][-1]["detail"] == "changed: expiresAt"

    refused = await admin(
        api, tokens, UPDATE, id=nid, input={"category": None, "contents": None, "url": None}
    )
    assert refused["notification"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        ("category", "BAD_USER_INPUT"),
        ("contents", "BAD_USER_INPUT"),
    ]
    stored = await admin(
        api, tokens, f"query($id: ID!) {{ notification(id: $id) {{ {FIELDS} }} }}", id=nid
    )
    assert stored["url"] == created["notification"]["url"]  # a refused patch changes nothing

    nothing = await admin(api, tokens, UPDATE, id=nid, input={})
    assert nothing["userErrors"] == []
    assert nothing["notification"]["audit"][-1]["detail"] == "changed: nothing"
    bad = await admin(api, tokens, UPDATE, id=nid, input={"url": "http://plain.example"})
    assert [e["field"] for e in bad["userErrors"]] == ["url"]


async def _publish_to(container: Container, clock: FakeClock, nid: str, user: str) -> None:
    """Stands in for the batch fan-out: mark PUBLISHED and deliver to one member."""
    stored = (await container.notifications.get_many([nid]))[nid]
    published = replace(stored, state=NotificationState.PUBLISHED)
    audit = AuditRecord(clock.now(), "batch", "publish", "test")
    await container.notifications.save(published, expected=stored.state, audit=audit)
    await container.members.deliver(user, entry_for(published, clock.now()))


async def test_segments_sizes_and_member_status(
    api: httpx.AsyncClient, container: Container, tokens: DevTokenIssuer
) -> None:
    for index, rank in enumerate(["REGULAR", "GOLD", "GOLD", "PLATINUM", "SILVER"]):
        await container.ledger.put_club(
            f"u{index}", ClubRecord(rank_code=rank, rank_month="2026-11")
        )
    everyone = await admin(
        api, tokens, SEGMENT, input={"name": "everyone", "rule": {"kind": "ALL_MEMBERS"}}
    )
    assert everyone["segment"]["size"] == 5 and everyone["userErrors"] == []
    top = await admin(
        api,
        tokens,
        SEGMENT,
        input={"name": "top", "rule": {"kind": "RANKS", "ranks": ["GOLD", "PLATINUM"]}},
    )
    assert top["segment"]["size"] == 3
    assert top["segment"]["rule"] == {"kind": "RANKS", "ranks": ["GOLD", "PLATINUM"]}
    duplicate = await admin(
        api, tokens, SEGMENT, input={"name": "top", "rule": {"kind": "ALL_MEMBERS"}}
    )
    assert [e["code"] for e in duplicate["userErrors"]] == ["CONFLICT"]
    bad = await admin(
        api,
        tokens,
        SEGMENT,
        input={"name": "Bad Name", "rule": {"kind": "RANKS", "ranks": ["GOLDEN"]}},
    )
    assert {e["field"] for e in bad["userErrors"]} == {"name", "rule.ranks"}
    listed = await admin(api, tokens, "{ segments { name size } }")
    assert listed == [{"name": "everyone", "size": 5}, {"name": "top", "size": 3}]
    preview = await admin(api, tokens, '{ segmentSize(rule: {kind: RANKS, ranks: ["GOLD"]}) }')
    assert preview == 2
    user_list = await gql(
        api,
        "{ segmentSize(rule: {kind: USER_LIST}) }",
        token=tokens.issue("operator-1", admin=True),
        path="/admin/graphql",
    )
    assert codes(user_list) == ["BAD_USER_INPUT"], user_list
    status = await admin(api, tokens, '{ member(userId: "u1") { rank { code } balance } }')
    assert status == {"rank": {"code": "GOLD"}, "balance": 0}

    to_segment = draft(audience={"kind": "SEGMENT", "segment": "top"})
    created = await admin(api, tokens, CREATE, input=to_segment)
    assert created["notification"]["audience"] == {
        "kind": "SEGMENT",
        "userId": None,
        "segment": "top",
    }


async def test_listing_pages_newest_first(
    api: httpx.AsyncClient, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    ids = []
    for index in range(7):
        clock.advance(timedelta(seconds=1))
        created = await admin(
            api,
            tokens,
            CREATE,
            input=draft(contents=[{"locale": "ja", "title": f"t{index}", "body": "b"}]),
        )
        ids.append(created["notification"]["id"])
    query = """query($after: String) { notifications(first: 3, after: $after) {
      edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    seen, after = [], None
    while True:
        page = await admin(api, tokens, query, after=after)
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(reversed(ids))


async def test_admin_fields_do_not_exist_on_the_public_endpoint(
    api: httpx.AsyncClient, tokens: DevTokenIssuer
) -> None:
    body = await gql(
        api,
        "{ notifications { edges { node { id } } } }",
        token=tokens.issue("operator-1", admin=True),
    )
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
