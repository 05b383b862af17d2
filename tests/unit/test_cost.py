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
        {"n": 100.0, "m": 2.5},  # a whole float is the Int graphql-core makes of it
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
    for size in range(1, cost.VALUES_KEPT * 2 + 1):  # 0 counts as 1: one key for both
        tally_of(schema, document, operation, {"n": size}, LIMITS)
    assert walks == 2 + cost.VALUES_KEPT * 2 - 2  # 5 and 6 were still kept when asked
    tally_of(schema, document, operation, {"n": 1}, LIMITS)  # pushed out: walked again
    assert walks == 2 + cost.VALUES_KEPT * 2 - 1
    # The page size in use stays however many others come by (least recently used goes first).
    walks = 0
    for size in range(1_000, 1_000 + cost.VALUES_KEPT * 2):
        tally_of(schema, document, operation, {"n": size}, LIMITS)
        tally_of(schema, document, operation, {"n": 20}, LIMITS)
    assert walks == cost.VALUES_KEPT * 2 + 1  # 20 walked once


def test_a_page_costs_what_the_server_will_read() -> None:
    """graphql-core takes 100.0 as the Int 100, and the resolvers read null as the default
    page (20 for the inbox): counted as a page of one, both let a document past the limit."""
    schema = public_schema()._schema
    pages = " ".join(f"p{i}: inbox(first: $n) {{ edges {{ cursor }} }}" for i in range(11))
    document = parse(f"query Pages($n: Int) {{ viewer {{ {pages} }} }}")
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)

    def cost(value: object) -> int:
        return tally_of(schema, document, operation, {"n": value}, LIMITS).cost

    assert cost(100) == cost(100.0) > LIMITS.cost
    assert cost(None) == cost(20) == 11 * 20
    assert cost(2.5) == cost("20") == cost(True) == 11
