"""200 concurrent read/unread mutations for one member, interleaved with deliveries."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from tests.builders import entry_for, notification, publish
from tests.e2e.gql import gql
from tests.fakes import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

READ = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { unreadCount } }"
UNREAD = "mutation($id: ID!) { markNotificationUnread(id: $id) { unreadCount } }"
VIEW = (
    """{ viewer { unreadCount inbox(first: 100) { unreadCount edges { node { id isRead } } } } }"""
)


async def test_concurrent_mutations_and_deliveries_end_with_exact_counts(
    api: httpx.AsyncClient, container: Container, clock: FakeClock, tokens: DevTokenIssuer
) -> None:
    token = tokens.issue("alice")
    now = clock.now()
    to_read = [f"r{i:02d}" for i in range(30)]  # each read by several concurrent requests
    to_unread = [f"u{i:02d}" for i in range(20)]  # read first, then marked unread concurrently
    for index, nid in enumerate([*to_read, *to_unread]):
        item = notification(nid, visible_from=now - timedelta(minutes=index + 5))
        await publish(container.notifications, container.members, item, ["alice"], now)
    assert "errors" not in await gql(api, READ, {"ids": to_unread}, token=token)
    fresh = [
        notification(f"f{i:02d}", visible_from=now - timedelta(minutes=i % 7)) for i in range(40)
    ]
    for item in fresh:
        await container.notifications.put(item)

    operations = [
        *(gql(api, READ, {"ids": random.sample(to_read, 4)}, token=token) for _ in range(100)),
        *(gql(api, UNREAD, {"id": to_unread[i % 20]}, token=token) for i in range(60)),
        *(gql(api, READ, {"ids": [to_read[i % 30]]}, token=token) for i in range(40)),
    ]
    deliveries = [container.members.deliver("alice", entry_for(item, now)) for item in fresh]
    random.shuffle(operations)
    results = await asyncio.gather(*operations, *deliveries)
    for result in results[: len(operations)]:
        assert isinstance(result, dict) and "errors" not in result, result

    # Reads that targeted to_read may have missed some ids (random samples): read them all once.
    await gql(api, READ, {"ids": to_read}, token=token)
    view = (await gql(api, VIEW, token=token))["data"]["viewer"]
    states = {edge["node"]["id"]: edge["node"]["isRead"] for edge in view["inbox"]["edges"]}
    expected_unread = {*to_unread, *(item.notification_id for item in fresh)}
    assert {nid for nid, read in states.items() if not read} == expected_unread
    assert view["unreadCount"] == len(expected_unread) == view["inbox"]["unreadCount"]
