"""Missions against a real engine: settles at once grant one reward; a stop between progress
and settle, or between the grant and the notice, is finished by the next settle (or the
`missions settle` sweep) with nothing doubled; the listing stays bounded."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.bootstrap import Container
from core.domain.missions import MAX_LISTED, GoalKind, Mission, MissionGoal
from core.domain.notification_draft import LocalizedContent
from core.errors import Conflict
from core.usecases.mission_events import RecordMissionEvents
from core.usecases.missions import MissionDraft, Missions
from tests.fakes import FakeClock

pytestmark = pytest.mark.integration


def draft(clock: FakeClock, target: int = 2, reward: int = 40, days: int = 7) -> MissionDraft:
    return MissionDraft(
        {
            "ja": LocalizedContent("動画を見る", "動画を見てポイント"),
            "en": LocalizedContent("Watch", "Watch"),
        },
        MissionGoal(GoalKind.EVENT, target, "watched-video"),
        clock.now() - timedelta(hours=1),
        clock.now() + timedelta(days=days),
        reward,
        30,
    )


def missions_of(container: Container) -> Missions:
    assert container.missions is not None
    return container.missions


async def balance(container: Container, user: str, clock: FakeClock) -> int:
    return (await container.point_club_queries().status(user, (), clock.now())).balance


async def test_settles_at_once_grant_the_reward_once(
    container: Container, clock: FakeClock
) -> None:
    missions = missions_of(container)
    mission = await missions.create("op", draft(clock))
    # Progress written as a stopped process leaves it: reached, not settled.
    await missions.store.record_events(
        "alice",
        [("e1", "a", clock.now()), ("e2", "b", clock.now())],
        "run",
        {mission.mission_id: 2},
    )
    reports = await asyncio.gather(*(missions.settle("alice") for _ in range(6)))
    assert sum(r.completed for r in reports) == 1
    assert await balance(container, "alice", clock) == 40
    page = await container.members.ledger_page("alice", None, 10)
    assert [e.entry_id for e in page.entries] == [mission.reward_entry_id("alice")]
    notice = await container.notifications.get(mission.reward_entry_id("alice"))
    assert notice is not None and notice.contents["en"].title == "Mission complete: Watch"
    assert (await missions.settle_due()).completed == 0  # nobody left on the due index


async def test_the_sweep_finishes_what_a_stop_left(container: Container, clock: FakeClock) -> None:
    missions = missions_of(container)
    mission = await missions.create("op", draft(clock))
    for user in ("bob", "carol"):
        await missions.store.record_events(
            user,
            [(f"{user}-1", "x", clock.now()), (f"{user}-2", "y", clock.now())],
            "run",
            {mission.mission_id: 2},
        )
    await missions.store.record_events(
        "dave", [("dave-1", "x", clock.now())], "run", {mission.mission_id: 1}
    )
    report = await missions.settle_due()
    assert (report.members, report.completed, report.noticed, report.failed) == (3, 2, 2, 0)
    assert [await balance(container, u, clock) for u in ("bob", "carol", "dave")] == [40, 40, 0]
    again = await missions.settle_due()
    assert (again.members, again.completed) == (0, 0)


async def test_a_notice_that_failed_goes_out_on_the_next_settle(
    container: Container, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    missions = missions_of(container)
    mission = await missions.create("op", draft(clock, target=1))
    await missions.store.record_events(
        "erin", [("erin-1", "x", clock.now())], "run", {mission.mission_id: 1}
    )
    sender = missions._notices
    real = sender.send

    async def down(notice: object) -> bool:
        raise Conflict("the notification store is down")

    monkeypatch.setattr(sender, "send", down)
    with pytest.raises(Conflict):
        await missions.settle("erin")
    assert await balance(container, "erin", clock) == 40  # granted before the notice
    monkeypatch.setattr(sender, "send", real)
    report = await missions.settle("erin")
    assert (report.completed, report.noticed) == (0, 1)
    assert await container.notifications.get(mission.reward_entry_id("erin")) is not None
    assert (await missions.settle("erin")).noticed == 0
    assert await balance(container, "erin", clock) == 40


async def test_the_listing_holds_at_most_max_listed_and_drops_ended_ones(
    container: Container, clock: FakeClock
) -> None:
    missions = missions_of(container)
    short = await missions.create("op", draft(clock, days=1))
    for _ in range(MAX_LISTED - 1):
        await missions.create("op", draft(clock))
    with pytest.raises(Conflict):
        await missions.create("op", draft(clock))
    clock.advance(timedelta(days=4))  # the short one ended over two days ago: its place is free
    fresh = await missions.create("op", draft(clock))
    listed = {m.mission_id for m in await missions.listed()}
    assert short.mission_id not in listed and fresh.mission_id in listed
    assert len(listed) == MAX_LISTED


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["e1", "e2", "e3", "e4", "e5"]), st.integers(-3, 3)),
        min_size=1,
        max_size=12,
    )
)
async def test_events_count_once_each_in_the_period_whatever_the_file(
    container: Container, clock: FakeClock, lines: list[tuple[str, int]]
) -> None:
    """Random files of events (ids repeated, the same id at other times, some outside the
    period), recorded twice: progress is the number of distinct ids first seen in the period."""
    missions = missions_of(container)
    user = f"m{abs(hash(tuple(lines))) % 10**9}"
    table = container.settings.table_name
    if table not in CREATED:  # one mission for every example (the listing holds MAX_LISTED)
        CREATED[table] = await missions.create("op", draft(clock, target=1000, days=1))
    mission = CREATED[table]

    def line(event_id: str, offset: int) -> str:
        at = clock.now() + timedelta(hours=offset * 10)  # -30h..+30h around a 1h..24h period
        return json.dumps(
            {
                "eventId": f"{user}-{event_id}",
                "userId": user,
                "event": "watched-video",
                "occurredAt": at.isoformat(),
            }
        )

    text = [line(e, o) for e, o in lines]
    recorder = RecordMissionEvents(missions=missions, clock=container.clock)
    await recorder.run(text)
    await recorder.run(text)
    first_seen: dict[str, int] = {}
    for event_id, offset in lines:
        first_seen.setdefault(event_id, offset)
    expected = sum(
        1
        for offset in first_seen.values()
        if mission.is_open(clock.now() + timedelta(hours=offset * 10))
    )
    assert (await missions.store.progress(user)).of(mission.mission_id).progress == expected


CREATED: dict[str, Mission] = {}


async def test_an_ended_mission_counts_late_files_until_it_is_unlisted(
    container: Container, clock: FakeClock
) -> None:
    missions = missions_of(container)
    mission = await missions.create("op", draft(clock, target=2, days=1))
    inside = clock.now() + timedelta(hours=2)
    clock.advance(timedelta(days=1, hours=1))  # ended an hour ago; the export lands now
    lines = [
        json.dumps(
            {
                "eventId": f"late-{n}",
                "userId": "frank",
                "event": "watched-video",
                "occurredAt": inside.isoformat(),
            }
        )
        for n in range(2)
    ]
    report = await RecordMissionEvents(missions=missions, clock=container.clock).run(lines)
    assert (report.recorded, report.counted, report.completed) == (2, 2, 1)
    assert await balance(container, "frank", clock) == 40
    assert await missions.store.prune(clock.now()) == 0  # still listed: within two days
    clock.advance(timedelta(days=2))
    assert await missions.store.prune(clock.now()) == 1
    assert mission.mission_id not in {m.mission_id for m in await missions.listed()}
    assert (await missions.settle("frank")).completed == 0
    assert (await missions.store.progress("frank")).missions == {}  # nothing can move it now
    assert await balance(container, "frank", clock) == 40
