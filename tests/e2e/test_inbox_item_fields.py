"""Every field of an inbox item over HTTP, read from the lazy ``InboxItemView`` that the GraphQL
item is (``InboxItem.from_view`` casts, so no type checker sees a field the view lacks)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import httpx
import pytest
from strawberry.types.base import get_object_definition

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.domain.notification_draft import LocalizedContent, Priority
from core.queries.views import InboxItemView
from schema.public import InboxEdge, InboxItem
from tests.builders import notification, publish
from tests.e2e.gql import gql
from tests.fakes import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FIELDS = (
    "id title body url imageUrl category priority visibleFrom expiresAt isRead readAt archivedAt"
)
INBOX = f"{{ viewer {{ inbox(first: 5) {{ edges {{ cursor node {{ {FIELDS} }} }} }} }} }}"
READ = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { unreadCount } }"


def test_the_view_has_every_field_of_the_graphql_item() -> None:
    fields = [f.python_name for f in get_object_definition(InboxItem, strict=True).fields]
    edge = [f.python_name for f in get_object_definition(InboxEdge, strict=True).fields]
    assert [name for name in fields if not hasattr(InboxItemView, name)] == []
    assert "cursor" in edge and hasattr(InboxItemView, "cursor")


async def test_every_item_field_reads_what_the_notification_and_state_say(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    shown = clock.now() - timedelta(minutes=5)
    rich = dataclasses.replace(
        notification("rich", visible_from=shown, category="campaign", url="https://e.example/a"),
        image_url="https://e.example/a.png",
        priority=Priority.HIGH,
        contents={
            "ja": LocalizedContent("お知らせ", "本文です"),
            "en": LocalizedContent("Notice", "The body"),
        },
    )
    plain = notification("plain", visible_from=shown - timedelta(minutes=1), lifetime=None)
    for item in (rich, plain):
        await publish(container.notifications, container.members, item, ["alice"], clock.now())
    token = tokens.issue("alice")
    assert "errors" not in await gql(api, READ, {"ids": ["rich"]}, token=token)

    body = await gql(api, INBOX, token=token, headers={"Accept-Language": "en"})

    assert "errors" not in body, body
    edges = body["data"]["viewer"]["inbox"]["edges"]
    nodes = [edge["node"] for edge in edges]
    assert [node["id"] for node in nodes] == ["rich", "plain"]
    first, second = nodes
    assert {k: first[k] for k in ("title", "body", "url", "imageUrl", "category", "priority")} == {
        "title": "Notice",
        "body": "The body",
        "url": "https://e.example/a",
        "imageUrl": "https://e.example/a.png",
        "category": "campaign",
        "priority": "HIGH",
    }
    assert _at(first["visibleFrom"]) == rich.visible_from
    assert _at(first["expiresAt"]) == rich.expires_at
    assert first["isRead"] is True and _at(first["readAt"]) <= clock.now()
    assert first["archivedAt"] is None
    assert second["title"] == "plain タイトル"  # no English: the default locale's
    assert (second["url"], second["imageUrl"], second["expiresAt"]) == (None, None, None)
    assert (second["isRead"], second["readAt"], second["priority"]) == (False, None, "NORMAL")
    assert len({edge["cursor"] for edge in edges}) == 2 and all(e["cursor"] for e in edges)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
