"""``ByIdentity``: a bounded memo of values by the identity of their keys, least recently used
out first; an equal but distinct key is another entry."""

from __future__ import annotations

from resolvers.by_identity import ByIdentity


class Key:
    """Equal to every other Key, and unhashable: only its identity can find it."""

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Key)


def test_a_key_finds_its_value_without_making_it_again() -> None:
    memo: ByIdentity[str] = ByIdentity(limit=2)
    key, made = Key(), []

    def make() -> str:
        made.append(1)
        return "value"

    assert memo.get((key,), make) == "value"
    assert memo.get((key,), make) == "value"
    assert len(made) == 1


def test_an_equal_but_distinct_key_is_another_entry() -> None:
    memo: ByIdentity[int] = ByIdentity(limit=4)
    first, second = Key(), Key()
    assert first == second

    assert memo.get((first,), lambda: 1) == 1
    assert memo.get((second,), lambda: 2) == 2
    assert len(memo) == 2


def test_the_least_recently_used_entry_goes_first() -> None:
    memo: ByIdentity[str] = ByIdentity(limit=2)
    a, b, c = Key(), Key(), Key()
    memo.get((a,), lambda: "a")
    memo.get((b,), lambda: "b")
    memo.get((a,), lambda: "not made")  # a is used again: b is now the oldest

    memo.get((c,), lambda: "c")

    assert len(memo) == 2
    assert memo.get((a,), lambda: "made again") == "a"
    assert memo.get((b,), lambda: "made again") == "made again"
