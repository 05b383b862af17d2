"""Every field and mutation of the admin schema, enumerated from the schema itself, refuses a
member token (FORBIDDEN) and no token (UNAUTHENTICATED), and changes nothing."""

from __future__ import annotations

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    get_named_type,
)

from core.auth import DevTokenIssuer
from resolvers.app import admin_schema
from tests.e2e.gql import codes, gql

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SCHEMA = admin_schema()._schema
SCALARS = {
    "ID": '"x1"',
    "String": '"x"',
    "Int": "1",
    "Float": "1.0",
    "Boolean": "true",
    "DateTime": '"2030-01-01T00:00:00+09:00"',
}


def literal(kind: GraphQLInputType) -> str:
    """A valid literal of an input type: required fields only."""
    if isinstance(kind, GraphQLNonNull):
        return literal(kind.of_type)
    if isinstance(kind, GraphQLList):
        return f"[{literal(kind.of_type)}]"
    if isinstance(kind, GraphQLEnumType):
        return str(next(iter(kind.values)))
    if isinstance(kind, GraphQLInputObjectType):
        fields = [
            f"{name}: {literal(field.type)}"
            for name, field in kind.fields.items()
            if isinstance(field.type, GraphQLNonNull)
        ]
        return "{" + ", ".join(fields) + "}"
    assert isinstance(kind, GraphQLScalarType)
    return SCALARS[kind.name]


def selection(field: GraphQLField) -> str:
    named = get_named_type(field.type)
    if isinstance(named, GraphQLObjectType | GraphQLUnionType):
        return " { __typename }"
    return ""


def operations() -> list[tuple[str, str, str]]:
    found = []
    for kind, root in (("query", SCHEMA.query_type), ("mutation", SCHEMA.mutation_type)):
        assert root is not None
        for name, field in root.fields.items():
            arguments = [
                f"{arg_name}: {literal(arg.type)}"
                for arg_name, arg in field.args.items()
                if isinstance(arg.type, GraphQLNonNull)
            ]
            args = f"({', '.join(arguments)})" if arguments else ""
            found.append((kind, name, f"{kind} {{ {name}{args}{selection(field)} }}"))
    return found


OPERATIONS = operations()


def test_the_enumeration_covers_the_whole_admin_schema() -> None:
    names = {name for _, name, _ in OPERATIONS}
    assert {"notification", "notifications", "segments", "segmentSize", "member"} <= names
    assert {
        "createNotification",
        "updateNotification",
        "scheduleNotification",
        "recallNotification",
        "createSegment",
    } <= names


@pytest.mark.parametrize(("kind", "name", "document"), OPERATIONS, ids=[o[1] for o in OPERATIONS])
async def test_member_tokens_and_no_token_are_refused(
    api: httpx.AsyncClient, tokens: DevTokenIssuer, kind: str, name: str, document: str
) -> None:
    member = await gql(api, document, token=tokens.issue("alice"), path="/admin/graphql")
    assert codes(member) == ["FORBIDDEN"], member
    assert member["data"] is None or member["data"].get(name) is None
    anonymous = await gql(api, document, path="/admin/graphql")
    assert codes(anonymous) == ["UNAUTHENTICATED"], anonymous
    operator = tokens.issue("op", admin=True)
    listed = await gql(
        api,
        "{ notifications { edges { node { id } } } segments { name } }",
        token=operator,
        path="/admin/graphql",
    )
    assert listed["data"] == {"notifications": {"edges": []}, "segments": []}, "nothing changed"
    # The same document with the admin role passes the check (it may still be refused as input).
    admin = await gql(api, document, token=operator, path="/admin/graphql")
    assert "FORBIDDEN" not in codes(admin) and "UNAUTHENTICATED" not in codes(admin), admin
