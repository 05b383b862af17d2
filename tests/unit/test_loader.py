"""``Loader``: one batch per window, deduplicated, cached, answered in key order; a failed batch
fails every load waiting on it and is forgotten."""

from __future__ import annotations

import asyncio

import pytest

from resolvers.loader import Loader


class Source:
    def __init__(self, failures: int = 0) -> None:
        self.batches: list[list[str]] = []
        self.failures = failures

    async def batch(self, keys: list[str]) -> list[str]:
        self.batches.append(list(keys))
        await asyncio.sleep(0)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the store is gone")
        return [key.upper() for key in keys]


async def test_loads_of_one_window_make_one_deduplicated_batch_in_key_order() -> None:
    source = Source()
    loader: Loader[str, str] = Loader(source.batch)

    many, one, again = await asyncio.gather(
        loader.load_many(["b", "a", "b", "c"]), loader.load("a"), loader.load("d")
    )

    assert (many, one, again) == (["B", "A", "B", "C"], "A", "D")
    assert [sorted(batch) for batch in source.batches] == [["a", "b", "c", "d"]]
    assert await loader.load_many(["c", "a"]) == ["C", "A"]  # cached: no second batch
    assert len(source.batches) == 1


async def test_a_later_load_opens_a_new_window_and_load_many_spans_both() -> None:
    source = Source()
    loader: Loader[str, str] = Loader(source.batch)
    assert await loader.load("a") == "A"

    assert await loader.load_many(["a", "b"]) == ["A", "B"]
    assert source.batches == [["a"], ["b"]]


async def test_a_failed_batch_fails_every_waiter_and_a_later_load_asks_again() -> None:
    source = Source(failures=1)
    loader: Loader[str, str] = Loader(source.batch)

    results = await asyncio.gather(
        loader.load("a"), loader.load_many(["a", "b"]), return_exceptions=True
    )

    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
    assert await loader.load_many(["a", "b"]) == ["A", "B"]
    assert source.batches == [["a", "b"], ["a", "b"]]


async def test_a_batch_of_the_wrong_length_is_an_error_not_a_wrong_answer() -> None:
    async def short(keys: list[str]) -> list[str]:
        return keys[:-1]

    loader: Loader[str, str] = Loader(short)

    with pytest.raises(RuntimeError, match="wrong number"):
        await loader.load_many(["a", "b"])


async def test_clear_forgets_answers_but_keeps_a_batch_in_flight() -> None:
    source = Source()
    loader: Loader[str, str] = Loader(source.batch)
    assert await loader.load("a") == "A"
    in_flight = asyncio.ensure_future(loader.load("b"))
    await asyncio.sleep(0)

    loader.clear()

    assert await in_flight == "B"
    assert await loader.load_many(["a", "b"]) == ["A", "B"]
    assert source.batches == [["a"], ["b"], ["a"]]  # "a" again; "b" answered after the clear


async def test_a_page_of_twenty_keys_waits_on_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    made: list[asyncio.Future[object]] = []
    create_future = loop.create_future

    def counted() -> asyncio.Future[object]:
        made.append(create_future())
        return made[-1]

    monkeypatch.setattr(loop, "create_future", counted)
    loader: Loader[str, str] = Loader(Source().batch)

    values = await loader.load_many([f"n{i}" for i in range(20)])

    assert values == [f"N{i}" for i in range(20)]
    assert len(made) == 2  # the batch's, and the shield the page waits through: not twenty


async def test_a_caller_cancelled_while_it_waits_does_not_cancel_the_batch_for_others() -> None:
    source = Source()
    loader: Loader[str, str] = Loader(source.batch)
    gone = asyncio.ensure_future(loader.load_many(["a", "b"]))
    staying = asyncio.ensure_future(loader.load("b"))
    await asyncio.sleep(0)  # both wait on the open window

    gone.cancel()

    assert await staying == "B"
    assert gone.cancelled()
    assert await loader.load_many(["a", "b"]) == ["A", "B"]  # answered, cached: no new batch
    assert len(source.batches) == 1


async def test_a_cancel_while_the_window_collects_leaves_the_next_load_unharmed() -> None:
    source = Source()
    loader: Loader[str, str] = Loader(source.batch)
    gone = asyncio.ensure_future(loader.load("a"))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)

    assert await loader.load("c") == "C"  # joins the window the cancelled caller opened
    assert [sorted(batch) for batch in source.batches] == [["a", "c"]]


async def test_a_batch_cancelled_with_its_task_fails_its_waiters_instead_of_hanging() -> None:
    started = asyncio.Event()

    async def stuck(keys: list[str]) -> list[str]:
        started.set()
        await asyncio.Event().wait()
        return keys

    loader: Loader[str, str] = Loader(stuck)
    waiting = asyncio.ensure_future(loader.load("a"))
    await started.wait()
    assert loader._task is None  # the window closed; find the dispatch task to cancel it
    (dispatch,) = [t for t in asyncio.all_tasks() if "_dispatch" in repr(t.get_coro())]

    dispatch.cancel()

    with pytest.raises(RuntimeError, match="cancelled"):
        await asyncio.wait_for(waiting, timeout=5)


async def test_a_load_is_a_future_that_gather_waits_on_without_a_task() -> None:
    loop = asyncio.get_running_loop()
    tasks: list[str] = []

    def counting(loop: asyncio.AbstractEventLoop, coro: object, **kwargs: object) -> object:
        tasks.append(getattr(coro, "__qualname__", ""))
        return asyncio.Task(coro, loop=loop, **kwargs)  # type: ignore[arg-type]

    loop.set_task_factory(counting)  # type: ignore[arg-type]
    try:
        loader: Loader[str, str] = Loader(Source().batch)
        loads = [loader.load(key) for key in "abc"]
        assert all(isinstance(load, asyncio.Future) for load in loads)

        assert await asyncio.gather(*loads) == ["A", "B", "C"]
    finally:
        loop.set_task_factory(None)
    assert tasks == ["Loader._dispatch"]  # the batch's; none for the three loads


async def test_load_as_picks_from_the_value_and_a_failed_pick_fails_only_its_caller() -> None:
    loader: Loader[str, str] = Loader(Source().batch)

    def refuse(value: str) -> str:
        raise LookupError(f"no part of {value}")

    picked, refused, plain = await asyncio.gather(
        loader.load_as("a", str.lower),
        loader.load_as("a", refuse),
        loader.load("a"),
        return_exceptions=True,
    )

    assert picked == "a"
    assert isinstance(refused, LookupError)
    assert plain == "A"


async def test_a_batch_cancelled_before_its_first_step_fails_its_waiters_and_lets_go() -> None:
    """Cancelled before it ran at all (the loop cancelling every task), the dispatch's own
    handlers never run: the waiters still get an error, and a later load opens a new window."""
    source = Source()
    loader: Loader[str, str] = Loader(source.batch)
    waiting = loader.load("a")
    assert loader._task is not None
    loader._task.cancel()  # before the loop gave it a step

    with pytest.raises(RuntimeError, match="cancelled"):
        await asyncio.wait_for(waiting, timeout=5)
    assert await asyncio.wait_for(loader.load_many(["a", "b"]), timeout=5) == ["A", "B"]
    assert source.batches == [["a", "b"]]


async def test_a_pick_raising_stop_iteration_fails_its_caller_instead_of_hanging() -> None:
    loader: Loader[str, str] = Loader(Source().batch)

    def exhausted(value: str) -> str:
        return next(iter(()))

    with pytest.raises(RuntimeError, match="StopIteration"):
        await asyncio.wait_for(loader.load_as("a", exhausted), timeout=5)
    assert await loader.load("a") == "A"
