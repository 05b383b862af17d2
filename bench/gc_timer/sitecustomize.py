"""Loaded by the server `bench profile` starts (on its PYTHONPATH): times the cyclic garbage
collector with ``gc.callbacks`` and, on SIGUSR1, appends the totals so far to the file named by
BENCH_GC_STATS (one JSON line: seconds collecting per generation, collections, process CPU)."""

from __future__ import annotations

import gc
import json
import os
import signal
import time
from typing import Any

_path = os.environ.get("BENCH_GC_STATS", "")
if _path:
    _seconds = [0.0, 0.0, 0.0]
    _collections = [0, 0, 0]
    _started = [0.0]

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

    gc.callbacks.append(_time)
    signal.signal(signal.SIGUSR1, _dump)
