"""Per-request DataLoaders: they dedupe keys, batch the loads of one request into few DynamoDB
calls and return results in key order. Each implements the core read port it wraps, so the core
queries run unchanged on top of them. Not ``strawberry.dataloader.DataLoader``: it dispatches one
loop turn after the first load, and the core queries issue some loads from inside
``asyncio.gather`` (a turn or two later), which would split the home screen's loads into several
batches. ``Loader`` waits a few turns instead: three calls however deep a resolver awaits."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

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

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Loop turns a batch stays open: loads from nested gathers of one resolver level join it.
WINDOW_TURNS = 4


class Loader(Generic[K, V]):
    """A minimal DataLoader: per-request cache, deduplication, one batch per window.

    Each window is one future, resolved with the whole batch's values by key: a key's load
    waits on its batch, so a page of twenty notifications waits on one future, not on twenty
    gathered (issue 18's profile). A batch that fails fails every load waiting on it, and its
    keys are forgotten, so a later load asks again. Loads wait on their batch through
    ``asyncio.shield``: a caller cancelled while it waits (a request past its deadline, a live
    subscriber gone, a sibling field cancelled by graphql-core) does not cancel the batch that
    other callers, of other requests or renders sharing the loaders, wait on.

    ``batch`` must not reach the loader back (the wrappers below pass a static function and their
    store, not a bound method of themselves): a cycle would hold the request's results until the
    cyclic collector runs, instead of freeing them when the request ends (issue 18's garbage
    census; ``tests/e2e/test_request_garbage.py``)."""

    def __init__(self, batch: Callable[[list[K]], Awaitable[Sequence[V]]]) -> None:
        self._batch = batch
        self._cache: dict[K, asyncio.Future[dict[K, V]]] = {}  # a key's batch
        self._window: asyncio.Future[dict[K, V]] | None = None  # the batch still open
        self._pending: list[K] = []
        self._task: asyncio.Task[None] | None = None

    async def load(self, key: K) -> V:
        batch = self._batch_of(key)
        if not batch.done():
            await asyncio.shield(batch)
        return batch.result()[key]

    async def load_many(self, keys: Sequence[K]) -> list[V]:
        batches = [self._batch_of(key) for key in keys]
        for batch in dict.fromkeys(batches):  # usually one
            if not batch.done():
                await asyncio.shield(batch)
        return [batch.result()[key] for key, batch in zip(keys, batches, strict=True)]

    def clear(self) -> None:
        """Forget cached results (after a write, so the response reads its own write)."""
        self._cache = {key: b for key, b in self._cache.items() if not b.done()}

    def _batch_of(self, key: K) -> asyncio.Future[dict[K, V]]:
        batch = self._cache.get(key)
        if batch is not None:
            return batch
        batch = self._window
        if batch is None:
            loop = asyncio.get_running_loop()
            batch = self._window = loop.create_future()
            self._task = loop.create_task(self._dispatch(batch))
        self._cache[key] = batch
        self._pending.append(key)
        return batch

    async def _dispatch(self, batch: asyncio.Future[dict[K, V]]) -> None:
        try:
            for _ in range(WINDOW_TURNS):
                await asyncio.sleep(0)
            keys = self._close_window()
            values = await self._batch(keys)
            if len(values) != len(keys):
                raise RuntimeError("loader batch returned the wrong number of values")
        except Exception as error:
            self._fail(keys, batch, error)
            return
        except BaseException:  # cancelled (the loop stopping): the waiters get an error, not a hang
            keys = self._close_window() if self._window is batch else keys
            self._fail(keys, batch, RuntimeError("the loader's batch was cancelled"))
            raise
        batch.set_result(dict(zip(keys, values, strict=True)))

    def _close_window(self) -> list[K]:
        keys, self._pending, self._window, self._task = self._pending, [], None, None
        return keys

    def _fail(self, keys: list[K], batch: asyncio.Future[dict[K, V]], error: Exception) -> None:
        for key in keys:
            self._cache.pop(key, None)  # a later load asks again
        batch.set_exception(error)
        batch.exception()  # retrieved: no "never retrieved" warning if no waiter is left


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

    async def inbox_state(self, user_id: str) -> InboxState:
        status = await self._loader.load(_StatusKey(user_id))
        assert isinstance(status, tuple)
        return status[0]

    async def club(self, user_id: str) -> ClubRecord | None:
        status = await self._loader.load(_StatusKey(user_id))
        assert isinstance(status, tuple)
        return status[1]

    async def missions(self, user_id: str) -> MemberMissions:
        status = await self._loader.load(_StatusKey(user_id))
        assert isinstance(status, tuple)
        return status[2]

    async def scan_inbox(self, user_id: str, request: InboxScanRequest) -> InboxScan:
        scan = await self._loader.load(_ScanKey(user_id, request))
        assert isinstance(scan, InboxScan)
        return scan

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

    async def live_for(self, user_id: str) -> LiveList:
        return await self._loader.load(self._store.shard_of(user_id))

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
