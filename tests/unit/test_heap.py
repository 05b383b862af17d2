"""The server sets its startup heap aside once started (core/heap.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from core.heap import THRESHOLDS, freeze_startup_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_the_startup_heap_is_frozen_and_collections_spaced_out() -> None:
    started = [object() for _ in range(10)] + [[n] for n in range(1_000)]
    frozen = freeze_startup_heap()
    # Another thread (a test engine's) may free a frozen object meanwhile: never more than that.
    assert frozen >= len(started) and 0 < gc.get_freeze_count() <= frozen
    assert gc.get_threshold() == THRESHOLDS
    # What is made afterwards is still collected: a cycle dropped after startup goes.
    cycle: list[object] = []
    cycle.append(cycle)
    objects_before = len(gc.get_objects())
    del cycle
    assert gc.collect() >= 1
    assert len(gc.get_objects()) <= objects_before
