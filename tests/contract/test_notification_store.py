"""``NotificationStore`` and ``LiveListStore``: idempotent creates, conditional saves, listings and
the recall list, the same on both backends."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from core.domain.notification import AuditRecord, NotificationState, listing_position
from core.errors import Conflict
from core.ports import IdempotencyClaim
from tests.builders import notification
from tests.contract.conftest import Backend
from tests.fakes import FakeClock


def audit(clock: FakeClock, action: str) -> AuditRecord:
    return AuditRecord(at=clock.now(), actor="op", action=action, detail="")


async def test_a_create_under_one_key_happens_once(backend: Backend, clock: FakeClock) -> None:
    store = backend.container.notifications
    claim = IdempotencyClaim("op", "key-1", "fp-1", clock.now() + timedelta(days=1))
    first = notification("n1", visible_from=clock.now(), state=NotificationState.DRAFT)
    second = notification("n2", visible_from=clock.now(), state=NotificationState.DRAFT)
    assert await store.create(first, claim) == first
    assert (await store.create(second, claim)).notification_id == "n1"
    assert await store.get("n2") is None
    with pytest.raises(Conflict):
        await store.create(second, replace(claim, fingerprint="fp-other"))
    assert (await store.create(second, None)).notification_id == "n2"
    assert set(await store.get_many(["n1", "n2", "n3"])) == {"n1", "n2"}


async def test_a_save_needs_the_state_and_version_it_read(
    backend: Backend, clock: FakeClock
) -> None:
    store = backend.container.notifications
    draft = notification("n1", visible_from=clock.now(), state=NotificationState.DRAFT)
    await store.create(draft, None)
    scheduled = replace(draft, state=NotificationState.SCHEDULED, category="point")
    await store.save(scheduled, expected=NotificationState.DRAFT, audit=audit(clock, "schedule"))
    stored = await store.get("n1")
    assert stored is not None
    assert (stored.state, stored.category, stored.version) == (
        NotificationState.SCHEDULED,
        "point",
        1,
    )
    assert [a.action for a in stored.audit] == ["schedule"]
    assert stored.created_at == draft.created_at and stored.created_by == draft.created_by
    with pytest.raises(Conflict):  # read before that save: version 0
        await store.save(scheduled, expected=NotificationState.SCHEDULED, audit=audit(clock, "x"))
    with pytest.raises(Conflict):  # not in the state expected
        await store.save(stored, expected=NotificationState.DRAFT, audit=audit(clock, "x"))
    assert (await store.put(stored, only_if_absent=True)) is False


async def test_listings_by_state_go_newest_first_and_page(
    backend: Backend, clock: FakeClock
) -> None:
    store = backend.container.notifications
    for n in range(5):
        item = notification(f"n{n}", visible_from=clock.now() + timedelta(minutes=n))
        await store.put(item)
    await store.put(notification("draft", visible_from=clock.now(), state=NotificationState.DRAFT))
    first = await store.page_by_state(NotificationState.PUBLISHED, None, 3)
    assert [n.notification_id for n in first] == ["n4", "n3", "n2"]
    rest = await store.page_by_state(NotificationState.PUBLISHED, listing_position(first[-1]), 3)
    assert [n.notification_id for n in rest] == ["n1", "n0"]
    every = [n.notification_id async for n in store.all_in_state(NotificationState.DRAFT)]
    assert every == ["draft"]


async def test_a_recall_reaches_every_member_at_once_and_can_be_forgotten(
    backend: Backend, clock: FakeClock
) -> None:
    c = backend.container
    item = notification("n1", visible_from=clock.now())
    await c.notifications.put(item)
    recalled = replace(item, state=NotificationState.RECALLED)
    await c.notifications.recall(
        recalled,
        expected=NotificationState.PUBLISHED,
        audit=audit(clock, "recall"),
    )
    stored = await c.notifications.get("n1")
    assert stored is not None and stored.state is NotificationState.RECALLED
    for member in ("alice", "bob", "carol", "dave", "erin"):
        assert "n1" in (await c.live.live_for(member)).recalled
        assert "n1" in (await c.live.live_in_shard(c.live.shard_of(member))).recalled
    with pytest.raises(Conflict):
        await c.notifications.recall(
            recalled,
            expected=NotificationState.PUBLISHED,
            audit=audit(clock, "recall"),
        )
    await c.live.remove("n1")
    assert "n1" not in (await c.live.live_for("alice")).recalled
    await c.live.add("n2")
    assert "n2" in (await c.live.live_for("bob")).recalled
