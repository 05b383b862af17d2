"""The point-club jobs on the in-memory stores: the ledger import (exactly once, bad lines
reported and skipped), the monthly rank evaluation and the expiry notices (each notice once,
whatever reruns), the demo seed and the background read counting."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from core.bootstrap import Container
from core.domain.notices import expiry_notice
from core.domain.notification import NotificationState
from core.domain.pointclub import ClubRecord, EntryClaim, LedgerEntry
from core.domain.time import iso_key, jst_month, shift_month
from core.domain.wallet import PointKind, PointLot
from core.errors import Unavailable
from core.ports import ReadChange
from tests.builders import notification, publish
from tests.fakes import FakeClock, FakeLedger, World, fake_container


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def c(world: World, clock: FakeClock) -> Container:
    return fake_container(clock=clock, world=world)


def line(
    entry_id: str,
    kind: str,
    amount: int,
    at: datetime,
    expires: datetime | None = None,
    user: str = "alice",
) -> str:
    document: dict[str, object] = {
        "entryId": entry_id,
        "userId": user,
        "kind": kind,
        "amount": amount,
        "occurredAt": iso_key(at),
    }
    if expires is not None:
        document["expiresAt"] = iso_key(expires)
    return json.dumps(document) + "\n"


def earned_and_used(clock: FakeClock, used: int = 6_000) -> list[str]:
    """30,000 points earned six months ago, ``used`` of them used in each of four months."""
    now = clock.now()
    lines = [line("earn-1", "EARNED", 30_000, now - timedelta(days=180), now + timedelta(days=90))]
    for months in (5, 4, 3, 2):
        lines.append(line(f"use-{months}", "USED", -used, now - timedelta(days=30 * months)))
    return lines


async def test_an_import_counts_each_entry_once_whatever_reruns(
    c: Container, world: World, clock: FakeClock
) -> None:
    lines = earned_and_used(clock)
    first = await c.import_ledger().run(lines)
    assert (first.imported, first.already, first.bad) == (5, 0, [])
    status = await c.point_club_queries().status("alice", (), clock.now())
    assert status.balance == 30_000 - 4 * 6_000
    again = await c.import_ledger().run(lines)
    assert (again.imported, again.already) == (0, 5)
    after = await c.point_club_queries().status("alice", (), clock.now())
    assert after.balance == status.balance and len(world.ledgers["alice"]) == 5


async def test_bad_lines_are_reported_by_number_and_the_rest_imported(
    c: Container, world: World, clock: FakeClock
) -> None:
    now = clock.now()
    good = earned_and_used(clock)
    lines: list[str | bytes] = [
        good[0],
        "not json\n",
        line("x1", "USED", 500, now),  # a use must be negative
        b"\xff\xfe\n",
        line("x2", "EARNED", 10, now, user="not a member!"),
        "\n",
        good[1],
        good[1].replace("-6000", "-7000"),  # the same id again in the file, changed
        "[" * 100_000 + "\n",  # nested past what a parser takes
    ]
    report = await c.import_ledger().run(lines)
    assert report.imported == 2
    assert [bad.number for bad in report.bad] == [2, 3, 4, 5, 8, 9]
    changed = await c.import_ledger().run([good[1].replace("-6000", "-7000")])
    assert changed.imported == 0 and len(changed.bad) == 1  # a used id with other content
    assert sorted(e.entry_id for e in world.ledgers["alice"].values()) == ["earn-1", "use-5"]


class MovedOnce(FakeLedger):
    """The ledger store, except that another import writes the member's record between this
    one's read and its first save."""

    moved = False

    async def save(
        self,
        user_id: str,
        entries: Sequence[LedgerEntry],
        record: ClubRecord,
        version: int,
        run_id: str,
        *,
        rank_was: str | None,
        missions: Mapping[str, int] | None = None,
    ) -> Mapping[str, EntryClaim]:
        if not self.moved:
            self.moved = True
            record = ClubRecord(unexpiring={PointKind.FREE: 7})
            await self.save_club(user_id, record, 0, rank_was=None)
        return await super().save(user_id, entries, record, version, run_id, rank_was=rank_was)


async def test_an_import_retries_a_club_record_that_moved_under_it(
    c: Container, world: World, clock: FakeClock
) -> None:
    ledger = MovedOnce(world)
    report = await replace(c, ledger=ledger).import_ledger().run(earned_and_used(clock))
    assert report.imported == 5 and ledger.moved
    status = await c.point_club_queries().status("alice", (), clock.now())
    assert status.balance == 7 + 30_000 - 24_000  # both writes are in the record


async def test_a_store_that_does_not_answer_stops_the_import(
    c: Container, world: World, clock: FakeClock
) -> None:
    world.down = Unavailable("no answer")
    with pytest.raises(Unavailable):
        await c.import_ledger().run(earned_and_used(clock))


async def test_ranks_are_evaluated_once_a_month_and_changes_announced_once(
    c: Container, world: World, clock: FakeClock
) -> None:
    await c.import_ledger().run(earned_and_used(clock))  # 24,000 used: GOLD (20,000)
    world.clubs["bob"] = ClubRecord(rank_code="REGULAR")
    month = shift_month(jst_month(clock.now()), 1)
    report = await c.evaluate_ranks().run(month, notify=True)
    assert (report.evaluated, report.changed, report.notified) == (2, 1, 1)
    assert world.clubs["alice"].rank_code == "GOLD" and world.clubs["alice"].rank_month == month
    notice = world.notifications[f"rank-{month}-alice"]
    assert notice.state is NotificationState.PUBLISHED
    assert "ゴールド" in notice.contents["ja"].title and "Gold" in notice.contents["en"].title
    assert set(world.entries["alice"]) == {notice.notification_id}
    again = await c.evaluate_ranks().run(month, notify=True)
    assert (again.evaluated, again.already, again.notified) == (0, 2, 0)
    assert len(world.entries["alice"]) == 1
    with pytest.raises(Exception, match="YYYY-MM"):
        await c.evaluate_ranks().run("2026-13", notify=False)


async def test_expiring_points_are_announced_once_per_lot(
    c: Container, world: World, clock: FakeClock
) -> None:
    now = clock.now()
    await c.import_ledger().run(
        [
            line("soon", "EARNED", 1_500, now - timedelta(days=30), now + timedelta(days=3)),
            line("later", "EARNED", 800, now - timedelta(days=30), now + timedelta(days=60)),
        ]
    )
    world.clubs["bob"] = ClubRecord(rank_code="REGULAR")
    walked: list[int] = []
    report = await c.notify_expiring().run(timedelta(days=7), walked.append)
    assert (report.members, report.notices, report.already) == (2, 1, 0) and walked[-1] == 2
    (notice,) = (n for n in world.notifications.values() if n.category == "point")
    assert "1,500" in notice.contents["ja"].body and "1,500" in notice.contents["en"].body
    assert notice.notification_id in world.entries["alice"]
    again = await c.notify_expiring().run(timedelta(days=7))
    assert (again.notices, again.already) == (0, 1)


async def test_pending_points_are_not_announced_as_expiring_until_spendable(
    c: Container, world: World, clock: FakeClock
) -> None:
    now = clock.now()
    pending = PointLot("back", 200, now + timedelta(days=5), available_at=now + timedelta(days=2))
    world.clubs["alice"] = ClubRecord(rank_code="REGULAR", lots=(pending,))
    report = await c.notify_expiring().run(timedelta(days=7))
    assert report.notices == 0
    clock.advance(timedelta(days=2))
    assert (await c.notify_expiring().run(timedelta(days=7))).notices == 1


async def test_a_notice_recalled_before_delivery_is_not_sent(
    c: Container, world: World, clock: FakeClock
) -> None:
    now = clock.now()
    notice = expiry_notice("alice", "lot", 100, now + timedelta(days=2), now)
    await c.notifications.put(notice)
    await c.authoring().recall("op", notice.notification_id, "wrong amount")
    assert await c.notice_sender().send(notice) is False
    assert "alice" not in world.entries


async def test_the_demo_seed_happens_once(c: Container, world: World) -> None:
    first = await c.seed_demo()
    assert first.members and first.delivered > 0
    entries = sum(len(inbox) for inbox in world.entries.values())
    second = await c.seed_demo()
    assert second.anchor == first.anchor and second.delivered == 0
    assert sum(len(inbox) for inbox in world.entries.values()) == entries


async def test_reads_are_counted_after_the_request_once(
    c: Container, world: World, clock: FakeClock
) -> None:
    item = notification("n1", visible_from=clock.now() - timedelta(hours=1))
    await publish(c.notifications, c.members, item, ["alice"], clock.now())
    marker = world.states["alice"].unread["n1"]
    await c.members.apply("alice", ReadChange(read=(marker,)), clock.now())
    c.read_counting.schedule("alice")
    c.read_counting.schedule("alice")  # while one runs: one more pass, not a second count
    await c.read_counting.drain()
    assert world.read_counts == {"n1": 1} and "alice" not in world.pending
    world.down = Unavailable("no answer")
    world.pending["alice"] = {"n1": marker}
    c.read_counting.schedule("alice")
    await c.read_counting.drain()  # a failure leaves the reads queued, and raises nothing
    assert "alice" in world.pending
