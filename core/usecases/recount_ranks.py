"""``ranks recount``: the member counts per rank rebuilt from the members-by-rank index.

Every job that gives or changes a rank keeps the counts in the same write; a table that holds
members from before the counts were kept (or restored, or edited by hand) needs them counted
once. Run it when no rank job runs: it replaces each shard's counts with what the index says.
"""

from __future__ import annotations

from collections.abc import Callable

from core.domain.segment import SegmentKind, SegmentRule
from core.observability.spans import traced
from core.ports import LedgerStore, SegmentStore


class RecountRanks:
    def __init__(self, *, segments: SegmentStore, ledger: LedgerStore) -> None:
        self._segments = segments
        self._ledger = ledger

    @traced
    async def run(self, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
        """Count each rank's members per shard, write the shards, return the totals."""
        partitions = self._segments.partitions(SegmentRule(SegmentKind.ALL_MEMBERS), None)
        per_shard: dict[int, dict[str, int]] = {}
        for done, partition in enumerate(partitions, start=1):
            assert partition.rank is not None
            size = await self._segments.partition_size(partition)
            per_shard.setdefault(partition.shard, {})[partition.rank] = size
            if progress is not None:
                progress(done, len(partitions))
        totals: dict[str, int] = {}
        for shard, counts in sorted(per_shard.items()):
            await self._ledger.set_rank_counts(shard, counts)
            for rank, count in counts.items():
                totals[rank] = totals.get(rank, 0) + count
        return {rank: count for rank, count in totals.items() if count}
