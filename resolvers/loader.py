"""The request's loader: a per-request cache and one batch per window of loop turns.

Not ``strawberry.dataloader.DataLoader``: it dispatches one loop turn after the first load, and
the core queries issue some loads from inside ``asyncio.gather`` (a turn or two later), which
would split the home screen's loads into several batches. ``Loader`` waits a few turns instead:
three calls however deep a resolver awaits. ``resolvers/dataloaders.py`` wraps it in the read
ports the core queries use.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")

# Loop turns a batch stays open: loads from nested gathers of one resolver level join it.
WINDOW_TURNS = 4


class Loader(Generic[K, V]):
    """A minimal DataLoader: per-request cache, deduplication, one batch per window.

    Each window is one future, resolved with the whole batch's values by key: a key's load
    waits on its batch, so a page of twenty notifications waits on one future, not on twenty
    gathered (issue 18's profile). A batch that fails fails every load waiting on it, and its
    keys are forgotten, so a later load asks again. A load is a future of its caller's own,
    resolved from the batch by a callback (``load_many`` waits through ``asyncio.shield``): a
    caller cancelled while it waits (a request past its deadline, a live subscriber gone, a
    sibling field cancelled by graphql-core) does not cancel the batch that other callers, of
    other requests or renders sharing the loaders, wait on. Being a future, not a coroutine, a
    load costs ``asyncio.gather`` no task: the core queries gather a member's reads.

    ``batch`` must not reach the loader back (the wrappers pass a static function and their
    store, not a bound method of themselves): a cycle would hold the request's results until the
    cyclic collector runs, instead of freeing them when the request ends (issue 18's garbage
    census; ``tests/e2e/test_request_garbage.py``)."""

    def __init__(self, batch: Callable[[list[K]], Awaitable[Sequence[V]]]) -> None:
        self._batch = batch
        self._cache: dict[K, asyncio.Future[dict[K, V]]] = {}  # a key's batch
        self._window: asyncio.Future[dict[K, V]] | None = None  # the batch still open
        self._pending: list[K] = []
        self._task: asyncio.Task[None] | None = None

    def load(self, key: K) -> asyncio.Future[V]:
        return self.load_as(key, _identity)

    def load_as(self, key: K, pick: Callable[[V], T]) -> asyncio.Future[T]:
        """``pick`` of the key's value, as a future of this caller's own: cancelling it leaves
        the batch to the others, and ``asyncio.gather`` waits on it without making a task."""
        batch = self._batch_of(key)
        answer: asyncio.Future[T] = batch.get_loop().create_future()
        if batch.done():
            _deliver(answer, key, pick, batch)
        else:
            batch.add_done_callback(functools.partial(_deliver, answer, key, pick))
        return answer

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
            self._task.add_done_callback(functools.partial(self._settle, batch))
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
        batch.set_result(dict(zip(keys, values, strict=True)))

    def _settle(self, batch: asyncio.Future[dict[K, V]], task: asyncio.Task[None]) -> None:
        """The dispatch ended without settling its batch: cancelled (the loop stopping), even
        before its first step, when none of ``_dispatch`` ran. The waiters get an error, not a
        hang, and the window and the keys are let go, so a later load asks again."""
        if batch.done():
            return
        if self._window is batch:
            self._close_window()
        keys = [key for key, of in self._cache.items() if of is batch]
        self._fail(keys, batch, RuntimeError("the loader's batch was cancelled"))

    def _close_window(self) -> list[K]:
        keys, self._pending, self._window, self._task = self._pending, [], None, None
        return keys

    def _fail(self, keys: list[K], batch: asyncio.Future[dict[K, V]], error: Exception) -> None:
        for key in keys:
            self._cache.pop(key, None)  # a later load asks again
        batch.set_exception(error)
        batch.exception()  # retrieved: no "never retrieved" warning if no waiter is left


def _deliver(
    answer: asyncio.Future[T], key: K, pick: Callable[[V], T], batch: asyncio.Future[dict[K, V]]
) -> None:
    if answer.done():  # its caller was cancelled
        return
    error = batch.exception()
    if error is not None:
        answer.set_exception(error)
        return
    try:
        answer.set_result(pick(batch.result()[key]))
    except StopIteration as stopped:  # a future refuses one (PEP 479): its caller would hang
        answer.set_exception(RuntimeError(f"the pick raised StopIteration: {stopped!r}"))
    except Exception as picked:
        answer.set_exception(picked)


def _identity(value: V) -> V:
    return value
