"""Trusted documents: the operations the mobile and web clients ship, allowed by their sha256.

The manifest (``config/trusted-documents.json``) is built from the clients' operations
(``config/operations/*.graphql``) by ``pointclub trusted-documents`` and checked in; a test fails
when it drifts. It uses Apollo's persisted-query manifest format, so client tooling can read it.

A request may name a document by hash, Apollo's way:
``{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}}`` (POST, or GET with
``extensions`` as a JSON query parameter). In trusted-only mode
(``POINTCLUB_TRUSTED_DOCUMENTS_ONLY=true``) any other document is refused before it is parsed, so
an attacker cannot send a query the clients never send.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, parse, validate
from strawberry.extensions import SchemaExtension

MANIFEST_FORMAT = "apollo-persisted-query-manifest"


def document_hash(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True, eq=False)  # one per app; hashed by identity (the schema cache key)
class TrustedDocuments:
    by_hash: Mapping[str, str]
    only: bool = False
    names: frozenset[str] = frozenset()  # the manifest's operation names

    @classmethod
    def load(cls, manifest: Path | None, *, only: bool) -> TrustedDocuments:
        """Without trusted-only mode the manifest is optional (a deployment without it accepts
        text documents only); trusted-only mode without one would refuse everything."""
        if manifest is None or not manifest.is_file():
            if only:
                raise ValueError(f"trusted-only mode needs a manifest; there is none at {manifest}")
            return cls({}, only=False)
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"{manifest}: not an {MANIFEST_FORMAT}")
        by_hash = {operation["id"]: operation["body"] for operation in data["operations"]}
        for key, body in by_hash.items():
            if document_hash(body) != key:
                raise ValueError(f"{manifest}: the id {key} is not the sha256 of its body")
        names = frozenset(str(op["name"]) for op in data["operations"] if op.get("name"))
        return cls(by_hash, only=only, names=names)


class TrustedDocumentsExtension(SchemaExtension):
    """Resolves ``persistedQuery.sha256Hash`` to its document; refuses other documents in
    trusted-only mode. Runs first, before the parser sees anything."""

    def __init__(self, documents: TrustedDocuments) -> None:
        self.documents = documents

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        persisted = (context.operation_extensions or {}).get("persistedQuery")
        if isinstance(persisted, dict) and "sha256Hash" in persisted:
            wanted = str(persisted["sha256Hash"]).lower()
            if context.query:
                if document_hash(context.query) != wanted:
                    raise GraphQLError(
                        "the query is not the document of its sha256Hash",
                        extensions={"code": "BAD_USER_INPUT"},
                    )
            else:
                body = self.documents.by_hash.get(wanted)
                if body is None:
                    raise GraphQLError(
                        "PersistedQueryNotFound", extensions={"code": "PERSISTED_QUERY_NOT_FOUND"}
                    )
                context.query = body
        if self.documents.only and (
            not context.query or document_hash(context.query) not in self.documents.by_hash
        ):
            raise GraphQLError(
                "only trusted documents are accepted here: send the sha256Hash of a document "
                "in the manifest",
                extensions={"code": "FORBIDDEN"},
            )
        yield


def build_manifest(operations: Path, schema: GraphQLSchema) -> dict[str, Any]:
    """The manifest of every ``*.graphql`` file under ``operations``: one operation a file,
    valid against ``schema``. Raises ``ValueError`` naming the file otherwise."""
    entries = []
    names: set[str] = set()
    for path in sorted(operations.glob("*.graphql")):
        body = path.read_text(encoding="utf-8")
        try:
            document = parse(body)
        except GraphQLError as error:
            raise ValueError(f"{path.name}: {error.message}") from error
        errors = validate(schema, document)
        if errors:
            raise ValueError(f"{path.name}: {errors[0].message}")
        found = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(found) != 1 or found[0].name is None:
            raise ValueError(f"{path.name}: one named operation a file")
        name = found[0].name.value
        if name in names:
            raise ValueError(f"{path.name}: a second operation named {name}")
        names.add(name)
        entries.append(
            {
                "id": document_hash(body),
                "name": name,
                "type": found[0].operation.value,
                "body": body,
            }
        )
    if not entries:
        raise ValueError(f"no *.graphql operations in {operations}")
    return {"format": MANIFEST_FORMAT, "version": 1, "operations": entries}


def manifest_text(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def client_files(root: Path) -> dict[Path, str]:
    """What ``pointclub trusted-documents`` writes under the project ``root``: the public
    manifest, the admin manifest, and the pages' module of their ids (``web/js/documents.js``)."""
    from resolvers.schemas import admin_schema, public_schema

    public = build_manifest(root / "config" / "operations", public_schema()._schema)
    admin = build_manifest(root / "config" / "admin-operations", admin_schema()._schema)
    return {
        root / "config" / "trusted-documents.json": manifest_text(public),
        root / "config" / "admin-trusted-documents.json": manifest_text(admin),
        root / "web" / "js" / "documents.js": documents_module(public, admin),
    }


def documents_module(public: Mapping[str, Any], admin: Mapping[str, Any]) -> str:
    """An ES module of the operations the pages may send: a query or mutation goes by its sha256
    (``extensions.persistedQuery``), a subscription by its text (the WebSocket takes text)."""

    def table(manifest: Mapping[str, Any]) -> str:
        entries = {
            operation["name"]: {
                "id": operation["id"],
                "type": operation["type"],
                **({"body": operation["body"]} if operation["type"] == "subscription" else {}),
            }
            for operation in manifest["operations"]
        }
        return json.dumps(entries, indent=2, ensure_ascii=False)

    return (
        "// Generated by `uv run pointclub trusted-documents` from config/operations and\n"
        "// config/admin-operations: do not edit.\n"
        f"export const MEMBER = {table(public)};\n\n"
        f"export const OPERATOR = {table(admin)};\n"
    )
