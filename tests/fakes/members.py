"""A member's partition in memory: implements ``InboxStore`` (reads, deliver, read state)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from core.domain.inbox import InboxEntry, InboxState
from core.domain.missions import MemberMissions
from core.domain.pointclub import ClubRecord
from core.ports import EntryRef, InboxScan, InboxScanRequest, LedgerPage, ReadChange
from tests.fakes.world import World

MAX_ENTRY_UPDATES = 99  # a transaction's 100 items, less the state item


class FakeMembers:
    def __init__(self, world: World | None = None) -> None:
        self.world = world or World()

    async def inbox_state(self, user_id: str) -> InboxState:
        self.world.check()
        return self.world.state(user_id)

    async def club(self, user_id: str) -> ClubRecord | None:
        self.world.check()
        return self.world.clubs.get(user_id)

    async def missions(self, user_id: str) -> MemberMissions:
        self.world.check()
        return MemberMissions()  # missions are not modelled in memory (tests run them on engines)

    async def statuses(
        self, user_ids: Sequence[str]
    ) -> dict[str, tuple[InboxState, ClubRecord | None, MemberMissions]]:
        self.world.check()
        return {
            uid: (self.world.state(uid), self.world.clubs.get(uid), MemberMissions())
            for uid in user_ids
        }

    async def scan_inbox(self, user_id: str, request: InboxScanRequest) -> InboxScan:
        """As the Query does: ``limit`` entries are evaluated, then the hidden ones dropped."""
        self.world.check()
        ordered = sorted(
            self.world.entries.get(user_id, {}).values(), key=lambda e: e.position, reverse=True
        )
        if request.after is not None:
            ordered = [e for e in ordered if e.position < request.after]
        evaluated = ordered[: request.limit]
        kept = [
            e
            for e in evaluated
            if e.visible_from <= request.now
            and (e.expires_at is None or e.expires_at > request.now)
            and (request.include_archived or e.archived_at is None)
            and (request.categories is None or e.category in request.categories)
        ]
        more = len(ordered) > request.limit
        with_status = request.with_status and request.after is None
        return InboxScan(
            entries=kept,
            resume_after=evaluated[-1].position if more and evaluated else None,
            state=self.world.state(user_id) if with_status else None,
            club=self.world.clubs.get(user_id) if with_status else None,
            missions=MemberMissions() if with_status else None,
        )

    async def inbox_entry(
        self, user_id: str, notification_id: str, visible_from: datetime
    ) -> InboxEntry | None:
        self.world.check()
        entry = self.world.entries.get(user_id, {}).get(notification_id)
        return entry if entry is not None and entry.visible_from == visible_from else None

    async def inbox_entries(
        self, user_id: str, refs: Sequence[EntryRef]
    ) -> Mapping[str, InboxEntry]:
        self.world.check()
        inbox = self.world.entries.get(user_id, {})
        return {
            ref.notification_id: inbox[ref.notification_id]
            for ref in refs
            if ref.notification_id in inbox
            and inbox[ref.notification_id].visible_from == ref.visible_from
        }

    async def ledger_page(self, user_id: str, after: str | None, limit: int) -> LedgerPage:
        self.world.check()
        ordered = sorted(self.world.ledgers.get(user_id, {}).items(), reverse=True)
        if after is not None:
            ordered = [(position, e) for position, e in ordered if position < after]
        page = ordered[:limit]
        more = len(ordered) > limit
        return LedgerPage(
            entries=[e for _, e in page], resume_after=page[-1][0] if more and page else None
        )

    async def deliver(self, user_id: str, entry: InboxEntry) -> bool:
        self.world.check()
        inbox = self.world.inbox(user_id)
        if entry.notification_id in inbox:
            return False
        inbox[entry.notification_id] = entry
        state = self.world.state(user_id)
        unread = {**state.unread, entry.notification_id: entry.marker()}
        self.world.states[user_id] = replace(state, unread=unread)
        return True

    async def apply(self, user_id: str, change: ReadChange, at: datetime) -> None:
        """The DynamoDB writer's semantics: set operations, and entry updates guarded so a
        missing or archived entry is never made unread (its marker stays out)."""
        self.world.check()
        if change.entry_updates > MAX_ENTRY_UPDATES:
            raise ValueError(f"at most {MAX_ENTRY_UPDATES} entry updates in one change")
        if change.unread and (change.read or change.drop):
            raise ValueError("a change either adds markers or removes them")
        inbox = self.world.inbox(user_id)
        # The entry updates of a broadcast's id create the member's copy where it is absent.
        for copy in change.copies:
            inbox.setdefault(copy.notification_id, copy)
        failed = {
            ref.notification_id
            for ref in change.clear_read
            if ref.notification_id not in inbox
            or inbox[ref.notification_id].archived_at is not None
        }
        for ref in (*change.stamp_read, *change.archive):
            if ref.notification_id in inbox:
                stored = inbox[ref.notification_id]
                inbox[ref.notification_id] = replace(stored, read_at=stored.read_at or at)
        for ref in change.archive:
            if ref.notification_id in inbox:
                stored = inbox[ref.notification_id]
                inbox[ref.notification_id] = replace(stored, archived_at=stored.archived_at or at)
        for ref in change.clear_read:
            if ref.notification_id not in failed:
                inbox[ref.notification_id] = replace(inbox[ref.notification_id], read_at=None)
        state = self.world.state(user_id)
        unread = dict(state.unread)
        for marker in (*change.read, *change.drop):
            unread.pop(marker.notification_id, None)
        for marker in change.unread:
            if marker.notification_id not in failed:
                unread[marker.notification_id] = marker
        read_all = {**state.read_all_at, **dict.fromkeys(change.read_all, at)}
        own = {**state.own_broadcasts, **{c.notification_id: c.expires_at for c in change.copies}}
        for gone, _ in change.forget:
            own.pop(gone, None)
        covered = {**state.read_broadcasts, **dict(change.cover)}
        for nid, read in change.uncover:
            if covered.get(nid) == read:
                covered.pop(nid)
        self.world.states[user_id] = InboxState(
            unread=unread, read_all_at=read_all, own_broadcasts=own, read_broadcasts=covered
        )
        queue = self.world.pending.setdefault(user_id, {})
        queue.update({m.notification_id: m for m in change.read})
