"""Per-request DataLoaders: they dedupe keys, batch the loads of one request into few DynamoDB
calls and return results in key order (``resolvers/loader.py``). Each implements the core read
port it wraps, so the core queries run unchanged on top of them."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from core.domain.broadcast import LiveList
from core.domain.inbox import InboxEntry, InboxState
from core.domain.missions import MemberMissions
from core.domain.notification import Notification
from core.domain.pointclub import ClubRecord
from core.ports import (
    EntryRef,
    InboxScan,
    InboxScanRequest,
    InboxStore,
    LedgerPage,
    LiveListStore,
    NotificationReader,
)
from resolvers.loader import Loader

V = TypeVar("V")


@dataclass(frozen=True)
class _StatusKey:
    user_id: str


@dataclass(frozen=True)
class _ScanKey:
    user_id: str
    request: InboxScanRequest


_MemberKey = _StatusKey | _ScanKey
_Status = tuple[InboxState, ClubRecord | None, MemberMissions]


class MemberLoader:
    """Batched ``MemberReader``: a member's state and club come with their first inbox page
    when both are asked for in the same request, else from one BatchGetItem for all members."""

    def __init__(self, store: InboxStore) -> None:
        self._store = store
        self._loader: Loader[_MemberKey, _Status | InboxScan] = Loader(
            functools.partial(self._batch, store)
        )

    def inbox_state(self, user_id: str) -> asyncio.Future[InboxState]:
        return self._loader.load_as(_StatusKey(user_id), _state_of)

    def club(self, user_id: str) -> asyncio.Future[ClubRecord | None]:
        return self._loader.load_as(_StatusKey(user_id), _club_of)

    def missions(self, user_id: str) -> asyncio.Future[MemberMissions]:
        return self._loader.load_as(_StatusKey(user_id), _missions_of)

    def scan_inbox(self, user_id: str, request: InboxScanRequest) -> asyncio.Future[InboxScan]:
        return self._loader.load_as(_ScanKey(user_id, request), _scan_of)

    async def inbox_entry(
        self, user_id: str, notification_id: str, visible_from: datetime
    ) -> InboxEntry | None:
        return await self._store.inbox_entry(user_id, notification_id, visible_from)

    async def inbox_entries(
        self, user_id: str, refs: Sequence[EntryRef]
    ) -> Mapping[str, InboxEntry]:
        return await self._store.inbox_entries(user_id, refs)

    async def ledger_page(self, user_id: str, after: str | None, limit: int) -> LedgerPage:
        return await self._store.ledger_page(user_id, after, limit)

    def clear(self) -> None:
        self._loader.clear()

    @staticmethod
    async def _batch(store: InboxStore, keys: list[_MemberKey]) -> list[_Status | InboxScan]:
        scans = [key for key in keys if isinstance(key, _ScanKey)]
        carriers: dict[str, _ScanKey] = {}
        for key in scans:
            if key.request.after is None and key.request.with_status:
                carriers.setdefault(key.user_id, key)
        status_only = sorted(
            {k.user_id for k in keys if isinstance(k, _StatusKey)} - carriers.keys()
        )
        reads = [store.scan_inbox(k.user_id, k.request) for k in scans]
        if status_only:
            scan_results, statuses = await asyncio.gather(_all(reads), store.statuses(status_only))
        else:  # the home screen: its one scan carries the status
            scan_results, statuses = await _all(reads), {}
        by_scan = dict(zip(scans, scan_results, strict=True))
        for user_id, carrier in carriers.items():
            scan = by_scan[carrier]
            statuses[user_id] = (
                scan.state or InboxState(),
                scan.club,
                scan.missions or MemberMissions(),
            )
        return [
            by_scan[key] if isinstance(key, _ScanKey) else statuses[key.user_id] for key in keys
        ]


def _state_of(status: _Status | InboxScan) -> InboxState:
    assert isinstance(status, tuple)
    return status[0]


def _club_of(status: _Status | InboxScan) -> ClubRecord | None:
    assert isinstance(status, tuple)
    return status[1]


def _missions_of(status: _Status | InboxScan) -> MemberMissions:
    assert isinstance(status, tuple)
    return status[2]


def _scan_of(scan: _Status | InboxScan) -> InboxScan:
    assert isinstance(scan, InboxScan)
    return scan


async def _all(reads: Sequence[Awaitable[V]]) -> list[V]:
    """``asyncio.gather``, without its task for a lone read (a request's usual batch)."""
    if len(reads) == 1:
        return [await reads[0]]
    return list(await asyncio.gather(*reads))


class NotificationLoader:
    """Batched ``NotificationReader``: one BatchGetItem (split at 100 keys) per window."""

    def __init__(self, store: NotificationReader) -> None:
        self._store = store
        # Keyed by (content version or None, id): a read as of one version of the live list
        # never answers a read as of another, nor one that wants the item as stored now.
        self._loader: Loader[tuple[str | None, str], Notification | None] = Loader(
            functools.partial(self._batch, store)
        )

    async def get_many(
        self, notification_ids: Sequence[str], *, as_of: str | None = None
    ) -> Mapping[str, Notification]:
        found = await self._loader.load_many([(as_of, nid) for nid in notification_ids])
        return {n.notification_id: n for n in found if n is not None}

    async def get(self, notification_id: str) -> Notification | None:
        return await self._loader.load((None, notification_id))

    def clear(self) -> None:
        self._loader.clear()

    @staticmethod
    async def _batch(
        store: NotificationReader, keys: list[tuple[str | None, str]]
    ) -> list[Notification | None]:
        by_version: dict[str | None, list[str]] = {}
        for version, nid in keys:
            by_version.setdefault(version, []).append(nid)
        groups = list(by_version.items())  # one in practice: a request reads one copy
        reads = await _all([store.get_many(ids, as_of=v) for v, ids in groups])
        found = {
            (version, nid): read[nid]
            for (version, ids), read in zip(groups, reads, strict=True)
            for nid in ids
            if nid in read
        }
        return [found.get(key) for key in keys]


class LiveListLoader:
    """Batched ``LiveListReader``: one read per live-list copy per request."""

    def __init__(self, store: LiveListStore) -> None:
        self._store = store
        self._loader: Loader[int, LiveList] = Loader(functools.partial(self._batch, store))

    def live_for(self, user_id: str) -> asyncio.Future[LiveList]:
        return self._loader.load(self._store.shard_of(user_id))

    def clear(self) -> None:
        self._loader.clear()

    @staticmethod
    async def _batch(store: LiveListStore, shards: list[int]) -> list[LiveList]:
        return await _all([store.live_in_shard(s) for s in shards])


@dataclass(frozen=True)
class DataLoaders:
    """One field per loader, all created fresh for each request."""

    members: MemberLoader
    notifications: NotificationLoader
    live: LiveListLoader

    @classmethod
    def create(
        cls,
        *,
        members: InboxStore,
        notifications: NotificationReader,
        live: LiveListStore,
    ) -> DataLoaders:
        return cls(
            members=MemberLoader(members),
            notifications=NotificationLoader(notifications),
            live=LiveListLoader(live),
        )

    def clear(self) -> None:
        self.members.clear()
        self.notifications.clear()
        self.live.clear()
