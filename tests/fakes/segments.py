"""Segments, user lists and the members-by-rank index in memory: ``SegmentStore``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from core.domain.audience import AudiencePartition, member_shard
from core.domain.segment import Segment, SegmentRule, audience_partitions
from core.errors import Conflict
from tests.fakes.world import World


class FakeSegments:
    def __init__(self, world: World | None = None, rank_codes: Sequence[str] = ()) -> None:
        self.world = world or World()
        self.rank_codes = tuple(rank_codes)

    async def create(self, segment: Segment) -> None:
        self.world.check()
        if segment.name in self.world.segments:
            raise Conflict(f"a segment named {segment.name} exists")
        self.world.segments[segment.name] = segment

    async def get(self, name: str) -> Segment | None:
        self.world.check()
        return self.world.segments.get(name)

    async def all(self) -> list[Segment]:
        self.world.check()
        return [self.world.segments[name] for name in sorted(self.world.segments)]

    async def put(self, segment: Segment) -> None:
        self.world.check()
        self.world.segments[segment.name] = segment

    async def add_list_members(self, name: str, user_ids: Sequence[str]) -> None:
        self.world.check()
        self.world.lists.setdefault(name, set()).update(user_ids)

    async def size(self, rule: SegmentRule, name: str | None = None) -> int:
        self.world.check()
        return sum(len(self._members(p)) for p in self.partitions(rule, name))

    async def partition_size(self, partition: AudiencePartition) -> int:
        self.world.check()
        return len(self._members(partition))

    def partitions(self, rule: SegmentRule, name: str | None) -> list[AudiencePartition]:
        return audience_partitions(rule, name, self.rank_codes)

    async def member_pages(
        self, partition: AudiencePartition, after: str | None, page_size: int = 500
    ) -> AsyncIterator[list[str]]:
        self.world.check()
        members = [m for m in self._members(partition) if after is None or m > after]
        for start in range(0, len(members), page_size):
            yield members[start : start + page_size]

    def _members(self, partition: AudiencePartition) -> list[str]:
        """One partition in member-id order: a list's members or a rank's, of one shard."""
        if partition.list_name is not None:
            candidates = self.world.lists.get(partition.list_name, set())
        else:
            candidates = {
                uid for uid, club in self.world.clubs.items() if club.rank_code == partition.rank
            }
        return sorted(uid for uid in candidates if member_shard(uid) == partition.shard)
