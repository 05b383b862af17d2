"""Strawberry's extension hooks, found once per extension class instead of once per request.

For each phase of each operation (operation, parse, validate, execute), Strawberry's runner asks
every extension whether it has that hook (``inspect``), wraps each hook it finds in a new context
manager (``contextlib.contextmanager``, which copies the function's metadata every time), and
enters them on an ``AsyncExitStack``: 36 lookups, 9 wrappers and 4 stacks a home screen, the
same answers every time (issue 18's profile). Here the hook of a class for a phase is found and
wrapped once, the context managers are made from it per request (they hold that request's
extension), and a phase whose hooks are all synchronous (all of ours) runs on a plain
``ExitStack``. Order, nesting and the way an exception reaches each hook are ``contextlib``'s, as
in Strawberry's runner (``Phase`` says where they differ); ``on_stream_result`` stays Strawberry's.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from functools import lru_cache
from types import TracebackType
from typing import Any, NamedTuple

from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

Factory = Callable[[SchemaExtension], Any]


class Hook(NamedTuple):
    make: Factory  # the extension -> its context manager for the phase
    is_async: bool


@lru_cache(maxsize=512)
def hook_of(kind: type, name: str) -> Hook | None:
    """The hook ``name`` of extension class ``kind``, ready to be entered; None if it has none."""
    function = getattr(kind, name)
    if function is getattr(SchemaExtension, name):
        return None
    if inspect.isgeneratorfunction(function):
        return Hook(contextlib.contextmanager(function), is_async=False)
    if inspect.isasyncgenfunction(function):
        return Hook(contextlib.asynccontextmanager(function), is_async=True)
    if not callable(function):
        raise ValueError(f"Hook {name} on {kind} must be callable, received {function!r}")
    if inspect.iscoroutinefunction(function):

        @contextlib.asynccontextmanager
        async def awaited(extension: SchemaExtension) -> AsyncIterator[None]:
            await function(extension)
            yield

        return Hook(awaited, is_async=True)

    @contextlib.contextmanager
    def called(extension: SchemaExtension) -> Iterator[None]:
        function(extension)
        yield

    return Hook(called, is_async=False)


class Phase:
    """One phase's hooks of one operation, entered in the extensions' order, left in reverse.

    As with Strawberry's runner, no hook can swallow an error: the phase's exit answers None, so
    an error raised in the phase goes on whatever a hook does with it. A hook that fails on the
    way in fails the phase; the hooks entered before it are left with its error (Strawberry's
    leaves them suspended), and it goes on even if one of them swallows it."""

    __slots__ = ("_hooks", "_name", "_stack")

    def __init__(self, extensions: list[SchemaExtension], name: str) -> None:
        self._name = name
        self._hooks = [
            (hook, extension)
            for extension in extensions
            if (hook := hook_of(extension.__class__, name)) is not None  # type: ignore[arg-type]
        ]
        self._stack: contextlib.ExitStack | contextlib.AsyncExitStack | None = None

    def __enter__(self) -> None:
        stack = contextlib.ExitStack()
        try:
            for hook, extension in self._hooks:
                if hook.is_async:
                    raise RuntimeError(
                        f"SchemaExtension hook {extension}.{self._name} "
                        "failed to complete synchronously."
                    )
                stack.enter_context(hook.make(extension))
        except BaseException as failed:
            stack.__exit__(type(failed), failed, failed.__traceback__)
            raise  # even if a hook entered before swallowed it: a refusal stays a refusal
        self._stack = stack

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if isinstance(stack, contextlib.ExitStack):
            stack.__exit__(kind, error, traceback)  # what it answers is dropped: see the class

    async def __aenter__(self) -> None:
        if not any(hook.is_async for hook, _ in self._hooks):
            self.__enter__()
            return
        stack = contextlib.AsyncExitStack()
        try:
            for hook, extension in self._hooks:
                if hook.is_async:
                    await stack.enter_async_context(hook.make(extension))
                else:
                    stack.enter_context(hook.make(extension))
        except BaseException as failed:
            await stack.__aexit__(type(failed), failed, failed.__traceback__)
            raise
        self._stack = stack

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(self._stack, contextlib.AsyncExitStack):
            stack, self._stack = self._stack, None
            await stack.__aexit__(kind, error, traceback)
            return
        self.__exit__(kind, error, traceback)


class HooksRunner(SchemaExtensionsRunner):
    """Strawberry's runner with phases made from the hooks found once per class."""

    def operation(self) -> Phase:  # type: ignore[override]
        return Phase(self.extensions, "on_operation")

    def parsing(self) -> Phase:  # type: ignore[override]
        return Phase(self.extensions, "on_parse")

    def validation(self) -> Phase:  # type: ignore[override]
        return Phase(self.extensions, "on_validate")

    def executing(self) -> Phase:  # type: ignore[override]
        return Phase(self.extensions, "on_execute")
