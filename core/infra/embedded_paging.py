"""Queries on the embedded engine at the cost of their page: each table with a string sort key
keeps, per partition, its sort keys in order (updated by every put and delete), so a Query
bisects to its page instead of sorting the table; an index Query makes one pass over the items
that carry the index key. Used by ``core/infra/embedded_engine.py``."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from typing import Any

# Each table with a string sort key keeps, per partition it has been queried on, the partition's
# sort keys in order, updated by every put and delete: a Query finds its page by bisection.
_SORTED = "_pointclub_sorted_keys"


def sorted_keys(table: Any, hash_key: Any) -> list[str] | None:
    if table.range_key_attr is None or table.range_key_type != "S":
        return None
    index: dict[Any, list[str]] = table.__dict__.setdefault(_SORTED, {})
    keys = index.get(hash_key)
    if keys is None:
        keys = index[hash_key] = sorted(key.value for key in table.items.get(hash_key, {}))
    return keys


def key_added(table: Any, hash_key: Any, range_key: Any) -> None:
    keys = table.__dict__.get(_SORTED, {}).get(hash_key)
    if keys is not None and range_key is not None:
        at = bisect.bisect_left(keys, range_key.value)
        if at == len(keys) or keys[at] != range_key.value:
            keys.insert(at, range_key.value)


def key_removed(table: Any, hash_key: Any, range_key: Any) -> None:
    keys = table.__dict__.get(_SORTED, {}).get(hash_key)
    if keys is not None and range_key is not None:
        at = bisect.bisect_left(keys, range_key.value)
        if at < len(keys) and keys[at] == range_key.value:
            del keys[at]


def page_candidates(table: Any, asked: dict[str, Any]) -> dict[Any, Any]:
    """The items of the queried partition that moto's Query could return on this page: those
    the key condition selects, after the start key, in the asked order, at most ``Limit`` + 1
    (so moto still sees whether there is more). moto then does its own work on them."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_key = asked["hash_key"]
    keys = sorted_keys(table, hash_key)
    assert keys is not None
    values = [obj.value for obj in asked.get("range_objs") or []]
    comparison = asked.get("range_comparison")
    selects = _selector(comparison, values)
    start = (asked.get("exclusive_start_key") or {}).get(table.range_key_attr)
    start_value = None if start is None else next(iter(start.values()))
    limit = asked.get("limit")
    wanted = None if limit is None else int(limit) + 1
    low, high = _lower(comparison, values), _upper(comparison, values)
    forward = asked.get("scan_index_forward", True) is not False
    if forward:
        at = 0 if start_value is None else bisect.bisect_right(keys, start_value)
        if low is not None:
            at = max(at, bisect.bisect_left(keys, low))
        order: Iterable[int] = range(at, len(keys))
    else:
        at = len(keys) if start_value is None else bisect.bisect_left(keys, start_value)
        if high is not None:
            at = min(at, bisect.bisect_right(keys, high))
        order = range(at - 1, -1, -1)
    # What a key condition selects is one run of consecutive keys, and the bounds put the walk
    # at most one key before it: take the run, up to the page's need.
    picked: list[str] = []
    for index in order:
        key = keys[index]
        if selects(key):
            picked.append(key)
            if wanted is not None and len(picked) >= wanted:
                break
        elif picked or _beyond(key, low, high, forward):
            break
    partition = table.items[hash_key]
    return {key: partition[key] for key in (DynamoType({"S": k}) for k in picked)}


def _beyond(key: str, low: str | None, high: str | None, forward: bool) -> bool:
    """The walk has passed every key the condition could select."""
    if forward:
        return high is not None and key > high
    return low is not None and key < low


def _selector(comparison: str | None, values: list[Any]) -> Callable[[str], bool]:
    if comparison is None:
        return lambda key: True
    from moto.dynamodb.comparisons import get_comparison_func

    check = get_comparison_func(comparison)
    return lambda key: bool(check(key, *values))


def _lower(comparison: str | None, values: list[Any]) -> str | None:
    """The smallest key the condition can select (a bound to bisect from), if it has one."""
    if comparison in ("EQ", "=", "GE", ">=", "GT", ">", "BETWEEN", "BEGINS_WITH", "begins_with"):
        return str(values[0])
    return None


def _upper(comparison: str | None, values: list[Any]) -> str | None:
    if comparison in ("EQ", "=", "LE", "<=", "LT", "<"):
        return str(values[0])
    if comparison == "BETWEEN":
        return str(values[1])
    if comparison in ("BEGINS_WITH", "begins_with"):
        return str(values[0]) + "\U0010ffff"
    return None


def index_partition(table: Any, index_name: str, conditions: Any) -> list[Any]:
    """The items whose index key attributes equal the query's hash key conditions."""
    wanted = list(conditions or [])
    if not wanted:  # moto raises its own error for a query without a hash key condition
        return [item for part in table.items.values() for item in _items_of(table, part)]
    return [
        item
        for part in table.items.values()
        for item in _items_of(table, part)
        if all(_equal(item.attrs.get(name), value) for name, value in wanted)
    ]


def _equal(attribute: Any, value: Any) -> bool:
    return attribute is not None and bool(attribute == value)


def _items_of(table: Any, part: Any) -> Any:
    return part.values() if table.range_key_attr else (part,)
