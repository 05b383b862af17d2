"""Spans named after the usecase or query that opens them (``InboxQueries.page``, …)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from core.observability.tracing import inert_unless_configured

inert_unless_configured()

from ddtrace.trace import Span, tracer  # noqa: E402  (after the line above, on purpose)

__all__ = ["Span", "chunk_span", "traced", "tracer"]

P = ParamSpec("P")
R = TypeVar("R")


def traced(function: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Wrap an async usecase or query method in a span named ``Class.method``; an exception
    marks the span as an error and propagates."""
    name = function.__qualname__

    @functools.wraps(function)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not tracer.enabled:  # tracing off: a span nobody sends still costs its making
            return await function(*args, **kwargs)
        with tracer.trace(name, resource=name, span_type="worker"):
            return await function(*args, **kwargs)

    return wrapper


def chunk_span(name: str, resource: str) -> Span:
    """A span for one chunk of batch work (a delivery batch, an import chunk)."""
    return tracer.trace(name, resource=resource, span_type="worker")
