"""Always-on limits: depth, aliases, tokens and body size are refused before any work is done."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.settings import Settings
from tests.e2e.gql import app_client, codes, gql

pytestmark = pytest.mark.e2e


async def test_deep_queries_are_refused(
    settings: Settings, container: Container, tokens: DevTokenIssuer
) -> None:
    # The public schema is at most 6 deep; a tighter limit shows the check at work.
    tight = settings.model_copy(update={"max_query_depth": 4})
    async with app_client(tight, container) as client:
        token = tokens.issue("alice")
        shallow = "{ viewer { pointClub { rank { code } } } }"
        assert "errors" not in await gql(client, shallow, token=token)
        deep = "{ viewer { pointClub { history { edges { node { id } } } } } }"
        body = await gql(client, deep, token=token)
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"], body
    assert "depth" in body["errors"][0]["message"]


async def test_alias_overloading_is_refused(api: httpx.AsyncClient, tokens: DevTokenIssuer) -> None:
    many = "{ viewer { " + " ".join(f"a{i}: unreadCount" for i in range(40)) + " } }"
    body = await gql(api, many, token=tokens.issue("alice"))
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert body["data"] is None


async def test_token_flooding_is_refused(api: httpx.AsyncClient, tokens: DevTokenIssuer) -> None:
    flood = "{ viewer { " + "userId " * 2500 + "} }"
    body = await gql(api, flood, token=tokens.issue("alice"))
    assert codes(body) == ["GRAPHQL_PARSE_FAILED"], body
    assert "token" in body["errors"][0]["message"].lower()


async def test_large_bodies_are_refused_with_413(api: httpx.AsyncClient) -> None:
    padding = "#" + "x" * (70 * 1024) + "\n{ viewer { userId } }"
    response = await api.post("/graphql", json={"query": padding})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_syntax_errors_carry_their_code(api: httpx.AsyncClient) -> None:
    body = await gql(api, "{ viewer { userId ")
    assert codes(body) == ["GRAPHQL_PARSE_FAILED"]


async def test_a_repeated_document_is_validated_once(
    api: httpx.AsyncClient, tokens: DevTokenIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limits are validation rules; made per request they would defeat the validation cache
    (a full validation on every request was a quarter of the server's CPU)."""
    import graphql

    validated: list[object] = []

    def counting(*args: Any, **kwargs: Any) -> object:
        validated.append(args[1])
        return graphql.validate(*args, **kwargs)

    # Strawberry's validate_document calls the name it imported from graphql-core.
    monkeypatch.setattr("strawberry.schema.schema.validate", counting)
    query = "query Once { viewer { unreadCount pointClub { balance } } }"
    token = tokens.issue("alice")
    for _ in range(3):
        assert "errors" not in await gql(api, query, token=token)
    assert len(validated) <= 1


async def test_a_warm_document_is_not_hashed(
    api: httpx.AsyncClient, tokens: DevTokenIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parsed document's hash walks its whole tree (a frozen dataclass's): the caches after
    the parser's (validation, the directive count) find a warm document by its identity."""
    from graphql import DocumentNode

    query = "query Hashless { viewer { unreadCount } }"
    token = tokens.issue("alice")
    assert "errors" not in await gql(api, query, token=token)

    def refuse(_: DocumentNode) -> int:
        raise AssertionError("a parsed document was hashed")

    monkeypatch.setattr(DocumentNode, "__hash__", refuse)
    assert "errors" not in await gql(api, query, token=token)


async def test_a_cached_invalid_document_is_refused_every_time(
    api: httpx.AsyncClient, tokens: DevTokenIssuer
) -> None:
    """The validation cache keeps what validation found: a warm invalid document is refused
    with the same error each time, never let through as valid."""
    query = "query Twice { viewer { noSuchField } }"
    token = tokens.issue("alice")
    bodies = [await gql(api, query, token=token) for _ in range(3)]
    assert [codes(body) for body in bodies] == [["GRAPHQL_VALIDATION_FAILED"]] * 3, bodies
    assert all(body["data"] is None for body in bodies)
    assert len({body["errors"][0]["message"] for body in bodies}) == 1
