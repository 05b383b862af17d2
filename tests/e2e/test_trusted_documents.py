"""Trusted documents: the clients' operations by sha256 (Apollo's persistedQuery form), and the
trusted-only mode that refuses every other document."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from core.auth import DevTokenIssuer
from core.bootstrap import Container
from core.settings import Settings
from resolvers.trusted import TrustedDocuments, document_hash
from tests.e2e.gql import app_client, codes
from tests.e2e.test_cli import cli_env, run_cli
from tests.engines import ROOT

pytestmark = pytest.mark.e2e

MANIFEST = json.loads((ROOT / "config" / "trusted-documents.json").read_text())
BY_NAME = {operation["name"]: operation for operation in MANIFEST["operations"]}
VARIABLES: dict[str, dict[str, Any]] = {
    "Notification": {"id": "unknown"},
    "MarkRead": {"ids": ["unknown"]},
    "MarkUnread": {"id": "unknown"},
    "Archive": {"ids": ["unknown"]},
}


def persisted(name: str, **variables: Any) -> dict[str, Any]:
    return {
        "variables": variables or VARIABLES.get(name, {}),
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": BY_NAME[name]["id"]}},
    }


@pytest.fixture
async def trusted_only(
    settings: Settings, container: Container
) -> AsyncIterator[httpx.AsyncClient]:
    strict = settings.model_copy(update={"trusted_documents_only": True})
    async with app_client(strict, container) as client:
        yield client


def test_a_missing_manifest_is_only_fatal_in_trusted_only_mode(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    assert TrustedDocuments.load(missing, only=False).by_hash == {}
    with pytest.raises(ValueError, match="needs a manifest"):
        TrustedDocuments.load(missing, only=True)
    with pytest.raises(ValidationError, match="POINTCLUB_TRUSTED_DOCUMENTS_FILE"):
        Settings(trusted_documents_only=True, trusted_documents_file=missing)
    forged = tmp_path / "forged.json"
    operation = {**MANIFEST["operations"][0], "body": "{ viewer { userId } }"}
    forged.write_text(json.dumps({**MANIFEST, "operations": [operation]}))
    with pytest.raises(ValueError, match="not the sha256"):
        TrustedDocuments.load(forged, only=False)


def test_the_manifest_is_built_from_the_operations_and_up_to_date() -> None:
    result = run_cli("trusted-documents", "--check", env=cli_env())
    assert result.returncode == 0, result.stderr
    for operation in MANIFEST["operations"]:
        assert operation["id"] == document_hash(operation["body"])


@pytest.mark.parametrize("name", sorted(BY_NAME))
async def test_every_client_operation_runs_by_its_hash(
    api: httpx.AsyncClient, tokens: DevTokenIssuer, name: str
) -> None:
    headers = {"Authorization": f"Bearer {tokens.issue('alice')}"}
    response = await api.post("/graphql", json=persisted(name), headers=headers)
    if BY_NAME[name]["body"].startswith("subscription"):
        # Its hash is known over HTTP too, but a subscription needs the WebSocket
        # (tests/e2e/test_live_events.py runs it there).
        assert response.status_code == 400 and "WebSocket" in response.text, response.text
        return
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body
    assert body["data"]


async def test_hash_over_get_and_the_same_answer_as_the_text(
    api: httpx.AsyncClient, tokens: DevTokenIssuer
) -> None:
    headers = {"Authorization": f"Bearer {tokens.issue('alice')}"}
    by_text = await api.post(
        "/graphql", json={"query": BY_NAME["Home"]["body"], "variables": {}}, headers=headers
    )
    request = persisted("Home")
    by_get = await api.get(
        "/graphql",
        params={"extensions": json.dumps(request["extensions"]), "variables": "{}"},
        headers=headers,
    )
    assert by_get.status_code == 200, by_get.text
    assert by_get.json() == by_text.json()
    assert "errors" not in by_get.json()


async def test_unknown_or_mismatched_hashes_are_refused(api: httpx.AsyncClient) -> None:
    unknown = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}
    body = (await api.post("/graphql", json=unknown)).json()
    assert codes(body) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert body.get("data") is None
    mismatch = {**persisted("Home"), "query": "{ viewer { unreadCount } }"}
    assert codes((await api.post("/graphql", json=mismatch)).json()) == ["BAD_USER_INPUT"]


async def test_trusted_only_mode_refuses_every_other_document(
    trusted_only: httpx.AsyncClient, tokens: DevTokenIssuer
) -> None:
    headers = {"Authorization": f"Bearer {tokens.issue('alice')}"}
    free_text = await trusted_only.post(
        "/graphql", json={"query": "{ viewer { unreadCount } }"}, headers=headers
    )
    body = free_text.json()
    assert body.get("data") is None
    assert codes(body) == ["FORBIDDEN"]
    # Introspection is a document like any other.
    schema = await trusted_only.post("/graphql", json={"query": "{ __schema { types { name } } }"})
    assert codes(schema.json()) == ["FORBIDDEN"]
    by_hash = await trusted_only.post("/graphql", json=persisted("UnreadCount"), headers=headers)
    assert by_hash.json() == {"data": {"viewer": {"unreadCount": 0}}}
    # The manifest's own text is trusted too (a client without hashing support).
    same_text = await trusted_only.post(
        "/graphql", json={"query": BY_NAME["UnreadCount"]["body"]}, headers=headers
    )
    assert same_text.json() == {"data": {"viewer": {"unreadCount": 0}}}
