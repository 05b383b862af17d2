"""The checks of the graphql-cop security auditor, sent as it sends them, and the answer a hardened
endpoint gives to each; the new limits (cost, fields, directives, content type); the
authentication matrix over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from core.auth import DevTokenIssuer
from core.bootstrap import Container, build_container
from core.domain.broadcast import LiveList
from core.settings import Settings
from tests.e2e.gql import HOME, app_client, codes, gql
from tests.fakes import FakeClock, SequentialIds
from tests.unit.test_auth import claims, hs256_by_hand

pytestmark = pytest.mark.e2e

PRODUCTION_SECRET = SecretStr("a-real-secret-from-the-vault-0123456789")


def production_settings(settings: Settings, **overrides: Any) -> Settings:
    """Validated like the environment's settings (``model_copy`` would skip the checks)."""
    prod = Settings.model_validate(
        {
            **settings.model_dump(),
            "env": "production",
            "jwt_secret": PRODUCTION_SECRET,
            **overrides,
        }
    )
    assert prod.is_production
    return prod


@pytest.fixture
async def production(
    settings: Settings, dynamo_client: Any, clock: FakeClock, container: Container
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A production server on the same table, and a token it accepts."""
    prod = production_settings(settings)
    built = build_container(prod, dynamo_client, clock=clock, ids=SequentialIds())
    token = jwt.encode(
        claims(), PRODUCTION_SECRET.get_secret_value(), algorithm="HS256"
    )  # a token from the identity provider, not a development token
    async with app_client(prod, built) as client:
        yield client, token


# graphql-cop: the payloads as the auditor sends them.


async def test_cop_alias_overloading(api: httpx.AsyncClient, tokens: DevTokenIssuer) -> None:
    aliases = "\n".join(f"alias{i}:__typename" for i in range(101))
    body = await gql(api, f"query cop {{ {aliases} }}", token=tokens.issue("alice"))
    assert body["data"] is None
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_cop_batch_queries_are_not_accepted(api: httpx.AsyncClient) -> None:
    batch = [{"query": "query cop { __typename }"}] * 10
    response = await api.post("/graphql", json=batch)
    assert response.status_code == 400
    assert not isinstance(_json_or_none(response), list)


async def test_cop_directive_overloading(api: httpx.AsyncClient) -> None:
    body = await gql(api, "query cop { __typename " + "@aa" * 50 + " }")
    assert body["data"] is None
    # One error, not one per repetition.
    assert [e["message"] for e in body["errors"]] == ["more than 10 directives in the document"]


async def test_cop_field_duplication(api: httpx.AsyncClient) -> None:
    fields = "\n".join(["__typename"] * 500)
    body = await gql(api, f"query cop {{ {fields} }}")
    assert body["data"] is None
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_cop_circular_introspection(api: httpx.AsyncClient) -> None:
    nested = "{ fields { type " * 4 + "{ name }" + " } }" * 4
    body = await gql(api, "query cop { __schema { types " + nested + " } }")
    assert body["data"] is None
    assert set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}


async def test_cop_circular_fragments(api: httpx.AsyncClient) -> None:
    query = (
        "query cop { viewer { ...A } } fragment A on Viewer { unreadCount ...B } "
        "fragment B on Viewer { unreadCount ...A }"
    )
    body = await gql(api, query)
    assert body["data"] is None
    assert "GRAPHQL_VALIDATION_FAILED" in codes(body)


async def test_cop_mutation_over_get(api: httpx.AsyncClient, tokens: DevTokenIssuer) -> None:
    response = await api.get(
        "/graphql",
        params={"query": "mutation cop { markAllNotificationsRead { unreadCount } }"},
        headers={"Authorization": f"Bearer {tokens.issue('alice')}"},
    )
    assert response.status_code in (400, 405)  # Strawberry answers 400
    assert "data" not in (_json_or_none(response) or {})


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", None],
)
async def test_cop_post_csrf_needs_json(api: httpx.AsyncClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await api.post(
        "/graphql", content=b"query=query cop { __typename }", headers=headers
    )
    assert response.status_code == 415
    assert codes(response.json()) == ["UNSUPPORTED_MEDIA_TYPE"]
    admin = await api.post("/admin/graphql", content=b'{"query":"{ __typename }"}')
    assert admin.status_code == 415


async def test_cop_get_queries_read_nothing_private_without_a_token(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/graphql", params={"query": "query cop { viewer { unreadCount } }"})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert codes(body) == ["UNAUTHENTICATED"]


async def test_cop_field_suggestions_only_in_development(
    api: httpx.AsyncClient, production: tuple[httpx.AsyncClient, str]
) -> None:
    query = "query cop { viewer { unreadCont } }"
    development = await gql(api, query)
    assert "Did you mean" in development["errors"][0]["message"]
    prod_client, token = production
    for document in (
        query,
        "query cop { viewer { inbox(frist: 1) { pageInfo { hasNextPage } } } }",
    ):
        body = await gql(prod_client, document, token=token)
        assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
        assert "Did you mean" not in body["errors"][0]["message"], body


async def test_cop_graphiql_only_in_development(
    api: httpx.AsyncClient, production: tuple[httpx.AsyncClient, str]
) -> None:
    accept = {"Accept": "text/html"}
    assert "graphiql" in (await api.get("/graphql", headers=accept)).text.lower()
    prod_client, _ = production
    for path in ("/graphql", "/admin/graphql"):
        response = await prod_client.get(path, headers=accept)
        assert "graphiql" not in response.text.lower()
        assert response.status_code in (400, 404, 405)


async def test_cop_no_tracing_or_debug_leakage(
    api: httpx.AsyncClient,
    tokens: DevTokenIssuer,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = await gql(api, "query cop { __typename }")
    assert body == {"data": {"__typename": "Query"}}  # no extensions.tracing, no timings

    async def bug(*_: object) -> LiveList:
        raise KeyError("boom in /srv/pointclub/core/infra/secret.py, table pointclub-prod")

    # An unexpected exception deep in a read: masked, coded, nothing of it in the answer.
    monkeypatch.setattr(container.live, "live_in_shard", bug)
    broken = await gql(api, "{ viewer { unreadCount } }", token=tokens.issue("alice"))
    assert broken["errors"][0]["message"] == "Internal server error"
    assert codes(broken) == ["INTERNAL_SERVER_ERROR"]
    text = json.dumps(broken)
    for leak in ("Traceback", 'File "', ".py", "KeyError", "boom", "pointclub-prod"):
        assert leak not in text


async def test_cop_introspection_only_in_development(
    api: httpx.AsyncClient, production: tuple[httpx.AsyncClient, str]
) -> None:
    query = "query cop { __schema { types { name fields { name } } } }"
    assert (await gql(api, query))["data"]["__schema"]["types"]
    prod_client, token = production
    for path in ("/graphql", "/admin/graphql"):
        response = await prod_client.post(
            path, json={"query": query}, headers={"Authorization": f"Bearer {token}"}
        )
        body = response.json()
        assert body.get("data") is None
        assert "introspection" in body["errors"][0]["message"].lower()
    # The production server still answers ordinary queries.
    home = await gql(prod_client, HOME, {"first": 5}, token=token)
    assert "errors" not in home, home


async def test_graphql_response_json_makes_request_errors_400(api: httpx.AsyncClient) -> None:
    accept = {"Accept": "application/graphql-response+json"}
    broken = await api.post("/graphql", json={"query": "{"}, headers=accept)
    assert broken.status_code == 400
    assert broken.headers["content-type"].startswith("application/graphql-response+json")
    assert "data" not in broken.json()
    assert codes(broken.json()) == ["GRAPHQL_PARSE_FAILED"]
    # A field error is not a request error: 200, with data.
    field_error = await api.post(
        "/graphql", json={"query": "{ viewer { unreadCount } }"}, headers=accept
    )
    assert field_error.status_code == 200
    assert field_error.json()["data"] is None
    assert codes(field_error.json()) == ["UNAUTHENTICATED"]
    # Clients that ask for application/json keep getting 200s.
    plain = await api.post("/graphql", json={"query": "{"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("application/json")


# The limits graphql-cop does not know about.


async def test_cost_limit_counts_first_with_variables(
    api: httpx.AsyncClient, tokens: DevTokenIssuer
) -> None:
    token = tokens.issue("alice")
    pages = " ".join(f"p{i}: inbox(first: $n) {{ edges {{ cursor }} }}" for i in range(11))
    query = f"query Pages($n: Int!) {{ viewer {{ {pages} }} }}"
    refused = await gql(api, query, {"n": 100}, token=token)
    assert refused["data"] is None
    assert codes(refused) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "cost" in refused["errors"][0]["message"]
    # 100.0 is the Int 100 to graphql-core: it costs as much (it was once counted as 1).
    assert codes(await gql(api, query, {"n": 100.0}, token=token)) == ["GRAPHQL_VALIDATION_FAILED"]
    # The same document with small pages costs 11 × 5 and runs.
    allowed = await gql(api, query, {"n": 5}, token=token)
    assert "errors" not in allowed, allowed
    # The home screen at its largest page is well inside the limit.
    assert "errors" not in await gql(api, HOME, {"first": 100}, token=token)


async def test_fields_limit_counts_spread_fragments(
    api: httpx.AsyncClient, tokens: DevTokenIssuer
) -> None:
    fragment = "fragment F on Viewer { " + " ".join(["unreadCount"] * 40) + " }"
    spreads = " ".join(["...F"] * 10)
    body = await gql(api, f"query cop {{ viewer {{ {spreads} }} }} {fragment}")
    assert body["data"] is None
    assert "fields" in body["errors"][0]["message"]


# The authentication matrix, through the API.


def _rsa_settings(settings: Settings, tmp_path: Path) -> tuple[Settings, rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    (tmp_path / "public.pem").write_text(public)
    prod = production_settings(
        settings, jwt_algorithms=["RS256"], jwt_public_key_file=tmp_path / "public.pem"
    )
    return prod, key, public


async def test_authentication_matrix(
    settings: Settings, dynamo_client: Any, clock: FakeClock, container: Container, tmp_path: Path
) -> None:
    prod, key, public = _rsa_settings(settings, tmp_path)
    built = build_container(prod, dynamo_client, clock=clock, ids=SequentialIds())
    now = int(time.time())
    refused: dict[str, str | None] = {
        "no token": None,
        "bad signature": jwt.encode(
            claims(), rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"
        ),
        "expired": jwt.encode(claims(exp=now - 3600, iat=now - 7200), key, "RS256"),
        "not yet valid": jwt.encode(claims(nbf=now + 3600), key, "RS256"),
        "wrong iss": jwt.encode(claims(iss="someone-else"), key, "RS256"),
        "wrong aud": jwt.encode(claims(aud="another-app"), key, "RS256"),
        "alg none": jwt.encode(claims(), None, algorithm="none"),  # type: ignore[arg-type]
        "HS256 signed with the RS256 public key": hs256_by_hand(claims(), public.encode()),
        "not a JWT": "not-a-token",
    }
    async with app_client(prod, built) as client:
        good = await gql(
            client, "{ viewer { unreadCount } }", token=jwt.encode(claims(), key, "RS256")
        )
        assert good == {"data": {"viewer": {"unreadCount": 0}}}
        for case, token in refused.items():
            body = await gql(client, "{ viewer { unreadCount } }", token=token)
            assert body["data"] is None, case
            assert codes(body) == ["UNAUTHENTICATED"], (case, body)
            admin = await gql(client, "{ segments { name } }", token=token, path="/admin/graphql")
            assert codes(admin) == ["UNAUTHENTICATED"], (case, admin)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
