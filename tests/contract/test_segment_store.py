"""``SegmentStore``: named segments, user lists and members by rank, on both backends."""

from __future__ import annotations

import pytest

from core.domain.pointclub import ClubRecord
from core.domain.segment import Segment, SegmentKind, SegmentRule
from core.errors import Conflict
from tests.contract.conftest import Backend
from tests.fakes import FakeClock

LIST = SegmentRule(SegmentKind.USER_LIST)


async def test_names_are_unique_and_listed_in_order(backend: Backend, clock: FakeClock) -> None:
    store = backend.container.segments
    for name in ("beta", "alpha"):
        await store.create(Segment(name, LIST, clock.now(), "op"))
    with pytest.raises(Conflict):
        await store.create(
            Segment("alpha", SegmentRule(SegmentKind.ALL_MEMBERS), clock.now(), "op")
        )
    assert [s.name for s in await store.all()] == ["alpha", "beta"]
    found = await store.get("alpha")
    assert found is not None and found.rule == LIST
    assert await store.get("gamma") is None


async def test_a_list_is_walked_by_partition_in_member_order(
    backend: Backend, clock: FakeClock
) -> None:
    store = backend.container.segments
    members = [f"m{n:03d}" for n in range(60)]
    await store.create(Segment("list", LIST, clock.now(), "op"))
    await store.add_list_members("list", members)
    await store.add_list_members("list", members[:10])  # again: no double
    assert await store.size(LIST, "list") == 60
    walked: list[str] = []
    for partition in store.partitions(LIST, "list"):
        pages = [page async for page in store.member_pages(partition, None, page_size=3)]
        flat = [m for page in pages for m in page]
        assert flat == sorted(flat) and all(len(page) <= 3 for page in pages)
        if len(flat) > 1:
            after = [m async for page in store.member_pages(partition, flat[0]) for m in page]
            assert after == flat[1:]
        walked += flat
    assert sorted(walked) == members


async def test_rank_audiences_follow_the_club_records(backend: Backend) -> None:
    c = backend.container
    for n in range(12):
        await c.ledger.put_club(f"g{n}", ClubRecord(rank_code="GOLD"))
    for n in range(5):
        await c.ledger.put_club(f"s{n}", ClubRecord(rank_code="SILVER"))
    await c.ledger.put_club("none", ClubRecord())
    gold = SegmentRule(SegmentKind.RANKS, ("GOLD",))
    assert await c.segments.size(gold) == 12
    assert await c.segments.size(SegmentRule(SegmentKind.ALL_MEMBERS)) == 17
    walked = [
        m
        for partition in c.segments.partitions(gold, None)
        async for page in c.segments.member_pages(partition, None)
        for m in page
    ]
    assert sorted(walked) == sorted(f"g{n}" for n in range(12))
