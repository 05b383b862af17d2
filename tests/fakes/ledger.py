"""The point ledger, the club record, the read counters and the system items in memory:
``LedgerStore``, ``ReadStats`` and ``SystemStore``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from core.domain.audience import member_shard
from core.domain.missions import Mission
from core.domain.pointclub import ClubRecord, EntryClaim, LedgerEntry
from core.errors import Conflict
from tests.fakes.world import World

MAX_ENTRIES = 48
PENDING_SHARDS = 8


class FakeLedger:
    batch_size = MAX_ENTRIES

    def __init__(self, world: World | None = None) -> None:
        self.world = world or World()

    async def club_for_update(self, user_id: str) -> tuple[ClubRecord | None, int]:
        self.world.check()
        return self.world.clubs.get(user_id), self.world.club_versions.get(user_id, 0)

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
        """All or nothing, as the transaction: ids claimed already (or entries present from
        before claims) come back and nothing is written; a moved club record is a Conflict.
        Mission progress is not modelled in memory (tests run missions on engines)."""
        self.world.check()
        ledger = self.world.ledgers.get(user_id, {})
        held: dict[str, EntryClaim] = {}
        for entry in entries:
            if entry.entry_id in self.world.claims:
                held[entry.entry_id] = self.world.claims[entry.entry_id]
            elif entry.position in ledger:
                held[entry.entry_id] = EntryClaim(entry.fingerprint(user_id), "")
        if held:
            return held
        self._check_version(user_id, version, rank_was)
        for entry in entries:
            self.world.claims[entry.entry_id] = EntryClaim(entry.fingerprint(user_id), run_id)
            self.world.ledgers.setdefault(user_id, {})[entry.position] = entry
        self._set_club(user_id, record, version + 1)
        return {}

    async def save_club(
        self, user_id: str, record: ClubRecord, version: int, *, rank_was: str | None
    ) -> None:
        self.world.check()
        self._check_version(user_id, version, rank_was)
        self._set_club(user_id, record, version + 1)

    async def put_club(
        self, user_id: str, record: ClubRecord, *, only_if_absent: bool = False
    ) -> bool:
        self.world.check()
        if only_if_absent and user_id in self.world.clubs:
            return False
        self._set_club(user_id, record, 0)  # a plain put leaves no version
        return True

    async def put_ledger(self, user_id: str, entries: Sequence[LedgerEntry]) -> None:
        self.world.check()
        ledger = self.world.ledgers.setdefault(user_id, {})
        ledger.update({entry.position: entry for entry in entries})

    async def rank_counts(self) -> Mapping[str, int]:
        """What the store's counters must equal: the members holding each rank now."""
        self.world.check()
        counts: dict[str, int] = {}
        for record in self.world.clubs.values():
            if record.rank_code is not None:
                counts[record.rank_code] = counts.get(record.rank_code, 0) + 1
        return counts

    async def set_rank_counts(self, shard: int, counts: Mapping[str, int]) -> None:
        """The fake's counts are always the members' ranks themselves: a recount writes what
        it would read, which the fake checks."""
        self.world.check()
        truth: dict[str, int] = {}
        for user_id, record in self.world.clubs.items():
            if record.rank_code is not None and member_shard(user_id) == shard:
                truth[record.rank_code] = truth.get(record.rank_code, 0) + 1
        assert {r: n for r, n in counts.items() if n} == truth, (shard, counts, truth)

    def _check_version(self, user_id: str, version: int, rank_was: str | None) -> None:
        if self.world.club_versions.get(user_id, 0) != version:
            raise Conflict("the point-club status changed meanwhile")
        held = self.world.clubs.get(user_id)
        # The store moves its counts from rank_was: a caller that passes another rank than the
        # one it read would make them drift.
        assert rank_was == (held.rank_code if held else None), "rank_was is not the rank read"

    def _set_club(self, user_id: str, record: ClubRecord, version: int) -> None:
        self.world.clubs[user_id] = record
        self.world.club_versions[user_id] = version


class FakeReadStats:
    """Each member's queued reads counted once per member and notification, into counters."""

    def __init__(self, world: World | None = None) -> None:
        self.world = world or World()

    async def count_pending_reads(self, user_id: str, missions: Sequence[Mission] = ()) -> int:
        self.world.check()
        queue = self.world.pending.pop(user_id, {})
        counted = 0
        for nid, marker in sorted(queue.items()):
            entry = self.world.entries.get(user_id, {}).get(nid)
            # A broadcast's read is claimed on its own: the member may have no entry for it.
            gone = entry is None or entry.visible_from != marker.visible_from
            if gone and not marker.broadcast:
                continue  # gone (expired, recalled): nothing to count
            if (user_id, nid) in self.world.counted:
                continue
            self.world.counted.add((user_id, nid))
            self.world.read_counts[nid] = self.world.read_counts.get(nid, 0) + 1
            counted += 1
        return counted

    async def read_counts(self, notification_ids: Sequence[str]) -> Mapping[str, int]:
        self.world.check()
        return {nid: self.world.read_counts.get(nid, 0) for nid in notification_ids}

    def pending_shards(self) -> range:
        return range(PENDING_SHARDS)

    async def members_with_pending_reads(self, shard: int) -> list[str]:
        self.world.check()
        return sorted(
            uid
            for uid, queue in self.world.pending.items()
            if queue and sum(uid.encode()) % PENDING_SHARDS == shard
        )


class FakeSystem:
    def __init__(self, world: World | None = None, *, created: bool = True) -> None:
        self.world = world or World()
        self.created = created  # an in-memory world is there from the start

    async def create_table(self) -> bool:
        self.world.check()
        created, self.created = not self.created, True
        return created

    async def ping(self) -> None:
        self.world.check()

    async def claim_anchor(self, proposed: datetime) -> datetime:
        self.world.check()
        if self.world.anchor is None:
            self.world.anchor = proposed
        return self.world.anchor
