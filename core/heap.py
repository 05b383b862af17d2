"""The process's long-lived heap, set aside once the server has started.

A server builds hundreds of thousands of objects at startup (botocore's service model, the
GraphQL schema, the settings, imported modules) that live as long as the process. Python's cyclic
collector walks all of them on every full collection, and a home screen allocates enough for
collections to run every few requests: measured under load (issue 18, `bench profile` with a
``gc.callbacks`` timer), collections took about a fifth of the server's CPU, two thirds of it in
full collections over those startup objects. So, once started:

- ``gc.freeze`` moves everything alive to a permanent generation the collector no longer walks
  (reference counting still frees a startup object that is dropped);
- the youngest generation is collected after 50,000 net allocations instead of 700: most of a
  request's objects are freed by reference counting when it ends, and a collection every few
  requests would only find them still in use (at 32 in flight) and promote them. Cyclic garbage
  waits a little longer: at most that many objects, a few megabytes. The price is a longer pause
  per young collection (about 30 ms at 32 in flight, every 0.7 s, instead of many short ones,
  when this was written), when one comes. A home screen now leaves no cyclic garbage
  (``tests/e2e/test_request_garbage.py``), and under its load `bench profile` saw none come.

`bench profile` (12 seconds at 32 in flight) answered 1,809 requests before, 2,105 with the freeze
and 2,199 with both; the collector's share of the server's CPU fell from 19% to 5%
(docs/BENCHMARKS.md, issue 18).
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 20)


def freeze_startup_heap() -> int:
    """Collect once, freeze what survives and space the collections out; the objects frozen."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return gc.get_freeze_count()
