"""Loaded by the server `bench profile` starts (on its PYTHONPATH): times the cyclic garbage
collector with ``gc.callbacks`` and, on SIGUSR1, appends the totals so far to the file named by
BENCH_GC_STATS (one JSON line: seconds collecting per generation, collections, process CPU).

With BENCH_GC_CENSUS naming a file, the first SIGUSR1 also starts keeping what the collector
frees (``gc.DEBUG_SAVEALL``) and the second writes its census there (``gc_census.py``)."""

from __future__ import annotations

import gc
import json
import os
import signal
import time
from typing import Any

_path = os.environ.get("BENCH_GC_STATS", "")
_census_path = os.environ.get("BENCH_GC_CENSUS", "")
if _path:
    _seconds = [0.0, 0.0, 0.0]
    _collections = [0, 0, 0]
    _started = [0.0]
    _signals = [0]

    def _time(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            _started[0] = time.process_time()
            return
        generation = info["generation"]
        _seconds[generation] += time.process_time() - _started[0]
        _collections[generation] += 1

    def _dump(*_: object) -> None:
        line = {"gc": _seconds, "collections": _collections, "cpu": time.process_time()}
        with open(_path, "a", encoding="utf-8") as stats:
            stats.write(json.dumps(line) + "\n")
        _signals[0] += 1
        if _census_path:
            _census(first=_signals[0] == 1)

    def _census(*, first: bool) -> None:
        if first:  # from here on, what the collector frees is kept in gc.garbage
            gc.collect()
            gc.set_debug(gc.DEBUG_SAVEALL)
            return
        gc.collect()
        gc.set_debug(0)
        garbage = list(gc.garbage)
        gc.garbage.clear()
        from gc_census import census  # type: ignore[import-not-found]  # next to this file

        partial = _census_path + ".partial"
        with open(partial, "w", encoding="utf-8") as out:
            json.dump(census(garbage), out)
        os.replace(partial, _census_path)  # whole or absent: the bench waits for it

    gc.callbacks.append(_time)
    signal.signal(signal.SIGUSR1, _dump)
