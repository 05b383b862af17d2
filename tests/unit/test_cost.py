"""The cost tally of a warm document (resolvers/cost.py): walked once per page-size values, and
the same as a fresh walk whatever the variables hold."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse

from resolvers import cost
from resolvers.cost import CostWalk, Tally, tally_of
from resolvers.schemas import public_schema

DOCUMENT = (
    "query Pages($n: Int = 7, $m: Int) { viewer { a: inbox(first: $n) { edges { cursor } } "
    "b: inbox(first: $m) { edges { cursor } } c: inbox(first: 3) { edges { cursor } } } }"
)
LIMITS = Tally(1_000, 300)


def _fresh(document: Any, variables: dict[str, Any] | None) -> tuple[int, int]:
    operation = document.definitions[0]
    tally = CostWalk(public_schema()._schema, document, variables, stop_at=LIMITS).operation(
        operation
    )
    return tally.cost, tally.fields


@pytest.mark.parametrize(
    "variables",
    [
        None,
        {},
        {"n": 5},
        {"n": 5, "m": 9},
        {"m": 9},
        {"n": True},  # equal to 1, but not an int to the walk's page size
        {"n": "10"},
        {"n": None, "m": -4},
        {"n": [1, 2], "m": {"x": 1}},  # unhashable: still a key
        {"n": 100, "m": 100},  # over the limit: the walk stops early, and so does the tally
    ],
)
def test_a_warm_tally_is_the_fresh_walk_s(variables: dict[str, Any] | None) -> None:
    document = parse(DOCUMENT)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    schema = public_schema()._schema
    for _ in range(2):  # cold, then warm
        tally = tally_of(schema, document, operation, variables, LIMITS)
        assert (tally.cost, tally.fields) == _fresh(document, variables)


def test_a_warm_document_is_walked_once_per_page_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    walks = 0
    operation_of = CostWalk.operation

    def counted(self: CostWalk, operation: OperationDefinitionNode) -> Tally:
        nonlocal walks
        walks += 1
        return operation_of(self, operation)

    monkeypatch.setattr(CostWalk, "operation", counted)
    document = parse(DOCUMENT)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    schema = public_schema()._schema
    for variables in ({"n": 5}, {"n": 5, "other": "ignored"}, {"n": 6}, {"n": 5}):
        tally_of(schema, document, operation, variables, LIMITS)
    assert walks == 2
    # Hostile variety is bounded: at most VALUES_KEPT tallies per document.
    for size in range(cost.VALUES_KEPT * 2):
        tally_of(schema, document, operation, {"n": size}, LIMITS)
    assert walks == 2 + cost.VALUES_KEPT * 2 - 2  # 5 and 6 were still kept when asked
    tally_of(schema, document, operation, {"n": 0}, LIMITS)  # pushed out: walked again
    assert walks == 2 + cost.VALUES_KEPT * 2 - 1
