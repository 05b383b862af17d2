"""The garbage census of `bench profile` names the cycles, not what merely hangs from them."""

from __future__ import annotations

import itertools

from bench.gc_timer.gc_census import census, cycles


class Node:
    def __init__(self) -> None:
        self.next: object = None


class Leaf:
    pass


def test_a_two_object_cycle_and_what_hangs_from_it() -> None:
    a, b, leaf = Node(), Node(), Leaf()
    a.next, b.next = b, [leaf]
    listed = b.next
    b.next = a
    a.payload = listed  # type: ignore[attr-defined]
    objects = [a, b, a.__dict__, b.__dict__, listed, leaf]

    found = cycles(objects)

    assert len(found) == 1
    assert {type(objects[i]).__name__ for i in found[0]} == {"Node", "dict"}
    assert 4 not in found[0] and 5 not in found[0]  # the list and the leaf only hang from it


def test_a_self_reference_is_a_cycle_and_a_chain_is_not() -> None:
    selfish: list[object] = []
    selfish.append(selfish)
    second: list[object] = []
    first: list[object] = [second]

    assert cycles([first, selfish, second]) == [[1]]


def test_a_deep_chain_does_not_recurse() -> None:
    chain: list[list[object]] = [[] for _ in range(20_000)]
    for here, there in itertools.pairwise(chain):
        here.append(there)
    chain[-1].append(chain[0])

    found = census(chain)

    assert found["objects"] == 20_000 and found["cycles"] == 1
    assert found["shapes"] == [("builtins.list", 1)]
