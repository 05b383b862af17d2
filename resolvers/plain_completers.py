"""The completers of ``resolvers.plain_fields``'s plans: one closure per field that turns the value
its attribute holds into the value the answer carries, or raises ``NotPlain`` (then graphql-core
completes the whole object the standard way, with its own errors and paths)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLBoolean, GraphQLID, GraphQLLeafType, GraphQLString
from graphql.pyutils import Undefined

Complete = Callable[[Any], Any]
Plan = Callable[[Any], dict[str, Any]]

# Built-in scalars whose output coercion answers a value of exactly this Python type unchanged
# (graphql-core's serialize_string, serialize_id and serialize_boolean).
EXACT: dict[GraphQLLeafType, type] = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}


class NotPlain(Exception):
    """A value the plan does not complete itself: the standard path takes the object."""


def identity(value: Any) -> Any:
    return value


def leaf(leaf_type: GraphQLLeafType, *, required: bool) -> Complete:
    """A scalar's or an enum's completer. For the built-in scalars a value of exactly their Python
    type is its own output, in one call where the general way makes five; anything else (a
    subclass, another type, a null, an error) goes the general way."""
    general = _coerced(leaf_type)
    if required:  # non-null in the schema
        general = non_null(general)
    exact = EXACT.get(leaf_type)
    if exact is None:
        return general

    def complete(value: Any) -> Any:
        if type(value) is exact:
            return value
        return general(value)

    return complete


def non_null(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        completed = inner(value)
        if completed is None:
            raise NotPlain
        return completed

    return complete


def nullable(plan: Plan) -> Complete:
    def complete(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if isinstance(value, Exception):
            raise NotPlain
        return plan(value)

    return complete


def list_of(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if not isinstance(value, list | tuple):
            raise NotPlain
        return [inner(item) for item in value]

    return complete


def _coerced(leaf_type: GraphQLLeafType) -> Complete:
    coerce = leaf_type.coerce_output_value

    def complete(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if isinstance(value, Exception):
            raise NotPlain
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise NotPlain
        return coerced

    return complete
