"""The extension hooks' runner (resolvers/hooks.py): Strawberry's order, nesting and exceptions,
with each class's hooks found once rather than once per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from strawberry.extensions import SchemaExtension

from resolvers.hooks import Phase, hook_of

calls: list[str] = []


class Outer(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        calls.append("outer in")
        try:
            yield
        except ValueError as error:
            calls.append(f"outer saw {error}")
            raise
        calls.append("outer out")


class Inner(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        calls.append("inner in")
        yield
        calls.append("inner out")


class Plain(SchemaExtension):
    def on_execute(self) -> None:  # type: ignore[override]  # not a generator: called going in
        calls.append("plain")


class Refuses(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        raise ValueError("refused")
        yield


class Later(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        calls.append("async in")
        yield
        calls.append("async out")


class Swallows(SchemaExtension):
    """Catches what reaches it and does not raise it again."""

    def on_execute(self) -> Iterator[None]:
        try:
            yield
        except ValueError as error:
            calls.append(f"swallowed {error}")


class Silent(SchemaExtension):
    """No hook at all: skipped."""


@pytest.fixture(autouse=True)
def _clear() -> None:
    calls.clear()


async def test_hooks_nest_in_the_extensions_order() -> None:
    async with Phase([Outer(), Silent(), Inner(), Plain()], "on_execute"):
        calls.append("body")
    assert calls == ["outer in", "inner in", "plain", "body", "inner out", "outer out"]


async def test_an_error_inside_reaches_each_hook_and_goes_on() -> None:
    with pytest.raises(ValueError, match="boom"):
        async with Phase([Outer(), Inner()], "on_execute"):
            raise ValueError("boom")
    assert calls == ["outer in", "inner in", "outer saw boom"]


async def test_a_hook_that_fails_on_the_way_in_leaves_those_entered_before_it() -> None:
    with pytest.raises(ValueError, match="refused"):
        async with Phase([Outer(), Refuses(), Inner()], "on_execute"):
            calls.append("body")
    assert calls == ["outer in", "outer saw refused"]


@pytest.mark.parametrize("late", [Later, Inner])  # an async phase, a synchronous one
async def test_no_hook_swallows_an_error_raised_inside(late: type[SchemaExtension]) -> None:
    """Strawberry's phases answer None on the way out: an error goes on whatever a hook does.
    Were it swallowed, the operation would go on with a result never set (a 500)."""
    with pytest.raises(ValueError, match="boom"):
        async with Phase([Swallows(), late()], "on_execute"):
            raise ValueError("boom")
    assert "swallowed boom" in calls


@pytest.mark.parametrize("late", [Later, Inner])
async def test_a_refusal_on_the_way_in_is_not_swallowed(late: type[SchemaExtension]) -> None:
    """A hook entered before a refusing one (a trusted-documents check) cannot let the
    operation run without its hooks by swallowing the refusal."""
    with pytest.raises(ValueError, match="refused"):
        async with Phase([Swallows(), late(), Refuses()], "on_execute"):
            calls.append("body")
    assert "body" not in calls
    with pytest.raises(ValueError, match="refused"), Phase([Swallows(), Refuses()], "on_execute"):
        calls.append("body")
    assert "body" not in calls


async def test_async_hooks_are_awaited_in_order_with_the_others() -> None:
    async with Phase([Outer(), Later(), Inner()], "on_execute"):
        calls.append("body")
    assert calls == [
        *("outer in", "async in", "inner in", "body"),
        *("inner out", "async out", "outer out"),
    ]


def test_an_async_hook_in_a_synchronous_phase_is_refused() -> None:
    with (
        pytest.raises(RuntimeError, match="failed to complete synchronously"),
        Phase([Later()], "on_execute"),
    ):
        pass


def test_a_class_s_hook_is_found_once() -> None:
    assert hook_of(Inner, "on_execute") is hook_of(Inner, "on_execute")
    assert hook_of(Silent, "on_execute") is None
    assert hook_of(Inner, "on_parse") is None
