"""``PointClubQueries`` on the in-memory stores: the status in the viewer's locale, and the
history paged by opaque cursors without repeats."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.bootstrap import Container
from core.domain.pointclub import ClubRecord, LedgerEntry, PointEntryKind
from core.domain.wallet import PointLot
from core.errors import InvalidInput
from tests.fakes import FakeClock, World, fake_container


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def c(world: World, clock: FakeClock) -> Container:
    return fake_container(clock=clock, world=world)


async def test_status_names_the_rank_in_the_viewers_locale(
    c: Container, world: World, clock: FakeClock
) -> None:
    now = clock.now()
    world.clubs["alice"] = ClubRecord(
        lots=(
            PointLot("l1", 300, now + timedelta(days=10)),
            PointLot("l2", 200, now + timedelta(days=3)),
            PointLot("l3", 50, now - timedelta(days=1)),  # expired: no job has run yet
        ),
        rank_code="SILVER",
    )
    queries = c.point_club_queries()
    english = await queries.status("alice", ("en",), now)
    assert english.balance == 500
    assert [e.amount for e in english.all_expiring] == [200, 300]
    assert (english.rank.code, english.rank.name) == ("SILVER", "Silver")
    assert english.next_rank is not None and english.next_rank.code == "GOLD"
    japanese = await queries.status("alice", ("fr", "ja"), now)
    assert japanese.rank.name == "シルバー"
    newcomer = await queries.status("bob", (), now)
    assert (newcomer.balance, newcomer.rank.code) == (0, "REGULAR")
    with pytest.raises(InvalidInput):
        await queries.status("not a member!", (), now)


async def test_history_pages_newest_first_by_cursor(
    c: Container, world: World, clock: FakeClock
) -> None:
    entries = [
        LedgerEntry(f"e{n:02d}", PointEntryKind.EARNED, n + 1, clock.now() - timedelta(hours=n))
        for n in range(25)
    ]
    await c.ledger.put_ledger("alice", entries)
    queries = c.point_club_queries()
    seen: list[str] = []
    after = None
    while True:
        page = await queries.history("alice", first=10, after=after)
        seen += [e.id for e in page.entries]
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert seen == [f"e{n:02d}" for n in range(25)]
    with pytest.raises(InvalidInput):
        await queries.history("alice", first=10, after="not-a-cursor")
    with pytest.raises(InvalidInput):
        await queries.history("alice", first=101, after=None)
    empty = await queries.history("nobody", first=10, after=None)
    assert (empty.entries, empty.has_next_page, empty.end_cursor) == ((), False, None)
