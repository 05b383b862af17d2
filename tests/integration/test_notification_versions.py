"""Optimistic concurrency on notifications: every save is conditional on the version read, so
two operators, or an operator and the fan-out, never silently overwrite each other."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from core.bootstrap import Container
from core.domain.notification import (
    UNCHANGED,
    AuditRecord,
    LocalizedContent,
    NotificationPatch,
    NotificationState,
)
from core.errors import Conflict
from core.usecases.authoring import NotificationAuthoring
from core.usecases.prepare_notification import PrepareNotification
from tests.builders import add_members, notification_for_all
from tests.fakes import FakeClock

pytestmark = pytest.mark.integration

FIXED = {"ja": LocalizedContent("訂正済み", "正しい本文")}


class StaleOnce:
    """The notification store, except that the first read of a notification answers what it
    held before ``meanwhile`` ran: another writer saves between this one's read and its save."""

    def __init__(self, store: Any, meanwhile: Callable[[], Awaitable[object]]) -> None:
        self._store = store
        self._meanwhile: Callable[[], Awaitable[object]] | None = meanwhile

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def get_many(self, ids: Sequence[str], *, as_of: str | None = None) -> Any:
        found = await self._store.get_many(ids, as_of=as_of)
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            await meanwhile()
        return found

    async def get(self, notification_id: str) -> Any:
        return (await self.get_many([notification_id])).get(notification_id)


async def test_a_save_from_a_stale_read_is_a_conflict(
    container: Container, clock: FakeClock
) -> None:
    nid = await notification_for_all(container, clock.now())
    store = container.notifications
    read = (await store.get_many([nid]))[nid]
    audit = AuditRecord(clock.now(), "op-a", "update", "changed: contents")
    await store.save(read.changed(audit, contents=FIXED), expected=read.state, audit=audit)

    other = AuditRecord(clock.now(), "op-b", "update", "changed: category")
    with pytest.raises(Conflict):
        await store.save(read.changed(other, category="news"), expected=read.state, audit=other)
    stored = (await store.get_many([nid]))[nid]
    assert (stored.contents, stored.category, stored.version) == (FIXED, read.category, 1)


async def test_two_operators_one_wins_the_other_is_told(
    container: Container, clock: FakeClock
) -> None:
    nid = await notification_for_all(container, clock.now())
    first = container.authoring()

    async def operator_a() -> object:
        return await first.update("op-a", nid, NotificationPatch(contents=FIXED))

    racing = StaleOnce(container.notifications, operator_a)
    authoring = NotificationAuthoring(
        store=racing,
        segments=container.segments,
        clock=container.clock,
        ids=container.ids,
        categories=set(container.settings.categories),
        events=container.events,
    )
    with pytest.raises(Conflict):
        await authoring.update("op-b", nid, NotificationPatch(category="news"))
    stored = (await container.notifications.get_many([nid]))[nid]
    assert stored.contents == FIXED and stored.category == "campaign"
    assert [a.actor for a in stored.audit] == ["op", "op-a"]
    assert NotificationPatch().category is UNCHANGED


async def test_an_amend_racing_the_fanout_start_is_kept(
    container: Container, clock: FakeClock
) -> None:
    members = await add_members(container, 60)
    nid = await notification_for_all(container, clock.now())

    async def operator_amends() -> object:
        return await container.authoring().update("op", nid, NotificationPatch(contents=FIXED))

    prepare = PrepareNotification(
        notifications=StaleOnce(container.notifications, operator_amends),
        audience=container.segments,
        fanout=container.fanout,
        publish=container.publish_broadcast(),
        clock=container.clock,
        events=container.events,
    )
    report = await prepare.run(nid)
    assert report.state is NotificationState.PUBLISHED and report.delivered == len(members)
    stored = (await container.notifications.get_many([nid]))[nid]
    assert stored.contents == FIXED, "the fan-out's save overwrote the amend"
    assert [a.action for a in stored.audit] == ["create", "update", "prepare", "publish"]
