"""What the cyclic collector frees, and the cycles that held it (for `bench profile` with
``BENCH_PROFILE_CENSUS=1``; loaded in the server from ``sitecustomize``).

Reference counting frees an object as soon as the last reference goes, except when the object is
in a reference cycle or reachable only from one: that waits for the cyclic collector. A census
counts that garbage by type and names the cycles (the strongly connected parts of the garbage's
reference graph) by the types in them: the cycle is what to break.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Sequence
from typing import Any


def kind(item: object) -> str:
    cls = type(item)
    return f"{cls.__module__}.{cls.__qualname__}"


def cycles(objects: Sequence[object]) -> list[list[int]]:
    """The reference cycles among ``objects``: their strongly connected parts of two objects or
    more, or of one that refers to itself, as lists of indexes (Tarjan's algorithm, iterative:
    a request's garbage nests deeper than Python's recursion limit)."""
    index = {id(item): i for i, item in enumerate(objects)}
    edges = [[index[id(r)] for r in gc.get_referents(item) if id(r) in index] for item in objects]
    order = [-1] * len(objects)
    low = [0] * len(objects)
    on_stack = [False] * len(objects)
    stack: list[int] = []
    found: list[list[int]] = []
    counter = 0
    for root in range(len(objects)):
        if order[root] != -1:
            continue
        work = [(root, 0)]
        while work:
            node, next_edge = work.pop()
            if next_edge == 0:
                order[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack[node] = True
            descended = False
            targets = edges[node]
            while next_edge < len(targets):
                target = targets[next_edge]
                next_edge += 1
                if order[target] == -1:
                    work.append((node, next_edge))
                    work.append((target, 0))
                    descended = True
                    break
                if on_stack[target]:
                    low[node] = min(low[node], order[target])
            if descended:
                continue
            if low[node] == order[node]:
                part = []
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    part.append(member)
                    if member == node:
                        break
                if len(part) > 1 or node in edges[node]:
                    found.append(part)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def census(objects: Sequence[object], top: int = 12) -> dict[str, Any]:
    """Garbage by type and cycles by the set of types in them, the most frequent first."""
    shapes = Counter(
        " + ".join(sorted({kind(objects[i]) for i in part})) for part in cycles(objects)
    )
    return {
        "objects": len(objects),
        "cycles": sum(shapes.values()),
        "kinds": Counter(kind(item) for item in objects).most_common(top),
        "shapes": shapes.most_common(top),
    }
