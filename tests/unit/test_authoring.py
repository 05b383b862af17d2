"""``NotificationAuthoring`` on the in-memory stores: create, idempotency, update and amend,
schedule, recall, and their refusals."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from core.bootstrap import Container
from core.domain.notification import (
    UNCHANGED,
    Audience,
    AudienceKind,
    LocalizedContent,
    NotificationPatch,
    NotificationState,
)
from core.domain.segment import SegmentKind, SegmentRule
from core.errors import Conflict, InvalidInput, NotFound, Unavailable, ValidationFailed
from tests.builders import draft
from tests.fakes import FakeClock, World, fake_container


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def c(world: World, clock: FakeClock) -> Container:
    return fake_container(clock=clock, world=world)


async def segment(c: Container, name: str = "all") -> Audience:
    await c.segment_authoring().create("op", name, SegmentRule(SegmentKind.ALL_MEMBERS))
    return Audience(AudienceKind.SEGMENT, segment=name)


async def test_a_create_is_a_draft_with_its_audit_and_a_key_makes_it_once(
    c: Container, clock: FakeClock
) -> None:
    audience = await segment(c)
    first = await c.authoring().create("op", draft(audience, clock.now()), "key-1")
    assert first.state is NotificationState.DRAFT and first.created_by == "op"
    assert [a.action for a in first.audit] == ["create"]
    again = await c.authoring().create("op", draft(audience, clock.now()), "key-1")
    assert again.notification_id == first.notification_id
    other = draft(audience, clock.now())
    other = replace(other, category="point")
    with pytest.raises(Conflict):
        await c.authoring().create("op", other, "key-1")
    with pytest.raises(InvalidInput):
        await c.authoring().create("op", draft(audience, clock.now()), "k" * 300)


async def test_a_create_names_every_bad_field(c: Container, clock: FakeClock) -> None:
    bad = draft(Audience(AudienceKind.SEGMENT, segment="nowhere"), clock.now())
    bad = replace(bad, category="unknown", contents={})
    with pytest.raises(ValidationFailed) as raised:
        await c.authoring().create("op", bad, None)
    fields = {e.field for e in raised.value.errors}
    assert {"audience.segment", "category"} <= fields


async def test_update_changes_a_draft_and_published_ones_take_content_only(
    c: Container, world: World, clock: FakeClock
) -> None:
    audience = await segment(c)
    created = await c.authoring().create("op", draft(audience, clock.now()), None)
    nid = created.notification_id
    updated = await c.authoring().update("op", nid, NotificationPatch(category="point"))
    assert updated.category == "point" and world.notifications[nid].version == 1
    world.notifications[nid] = world.notifications[nid].changed(
        updated.audit[-1], state=NotificationState.PUBLISHED
    )
    with pytest.raises(ValidationFailed):
        await c.authoring().update("op", nid, NotificationPatch(category="news"))
    amended = await c.authoring().update(
        "op", nid, NotificationPatch(contents={"ja": LocalizedContent("新", "本文")})
    )
    assert amended.audit[-1].action == "amend"
    assert world.notifications[nid].contents["ja"].title == "新"
    assert NotificationPatch().category is UNCHANGED


async def test_two_editors_never_overwrite_each_other(
    c: Container, world: World, clock: FakeClock
) -> None:
    audience = await segment(c)
    created = await c.authoring().create("op", draft(audience, clock.now()), None)
    stale = created
    await c.authoring().update("op", created.notification_id, NotificationPatch(category="point"))
    with pytest.raises(Conflict):
        await c.notifications.save(
            stale.changed(stale.audit[0], category="news"),
            expected=NotificationState.DRAFT,
            audit=stale.audit[0],
        )
    assert world.notifications[created.notification_id].category == "point"


async def test_schedule_and_recall_move_the_state_once(
    c: Container, world: World, clock: FakeClock
) -> None:
    audience = await segment(c)
    created = await c.authoring().create("op", draft(audience, clock.now()), None)
    nid = created.notification_id
    with pytest.raises(ValidationFailed):  # after it expires
        await c.authoring().schedule("op", nid, clock.now() + timedelta(days=60))
    at = clock.now() + timedelta(days=1)
    scheduled = await c.authoring().schedule("op", nid, at)
    assert (scheduled.state, world.notifications[nid].visible_from) == (
        NotificationState.SCHEDULED,
        at,
    )
    with pytest.raises(InvalidInput):
        await c.authoring().recall("op", nid, "  ")
    await c.authoring().recall("op", nid, "wrong audience")
    assert world.notifications[nid].state is NotificationState.RECALLED
    assert nid in (await c.live.live_for("anyone")).recalled
    with pytest.raises(Conflict):
        await c.authoring().recall("op", nid, "again")
    with pytest.raises(Conflict):
        await c.authoring().update("op", nid, NotificationPatch(category="news"))
    with pytest.raises(Conflict):
        await c.authoring().schedule("op", nid, at)
    with pytest.raises(NotFound):
        await c.authoring().recall("op", "01NOSUCHNOTIFICATION000000", "why")
    with pytest.raises(InvalidInput):
        await c.authoring().recall("op", "not an id!", "why")


async def test_a_store_that_does_not_answer_is_unavailable(
    c: Container, world: World, clock: FakeClock
) -> None:
    audience = await segment(c)
    world.down = Unavailable("DynamoDB did not answer")
    with pytest.raises(Unavailable):
        await c.authoring().create("op", draft(audience, clock.now()), None)
