"""Always-on request limits: body size and content type here, directives as a validation rule;
depth, aliases and tokens are Strawberry's; cost and fields are ``resolvers.cost``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, Visitor, visit
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from resolvers.by_identity import CACHED_DOCUMENTS, ByIdentity


class DirectiveLimit(SchemaExtension):
    """More than ``max_directives`` directives in a document is refused with one error: directive
    overloading would otherwise get one error per repeated unknown directive. It runs after the
    validation cache and replaces what validation found."""

    def __init__(self, *, max_directives: int) -> None:
        self.max_directives = max_directives

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and _directives_in(document) > self.max_directives:
            context.pre_execution_errors = [
                GraphQLError(
                    f"more than {self.max_directives} directives in the document",
                    extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
                )
            ]
        yield


_COUNTED: ByIdentity[int] = ByIdentity(limit=CACHED_DOCUMENTS)


def _directives_in(document: DocumentNode) -> int:
    return _COUNTED.get((document,), lambda: _count_directives(document))


def _count_directives(document: DocumentNode) -> int:
    counter = _DirectiveCounter()
    visit(document, counter)
    return counter.count


class _DirectiveCounter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def enter_directive(self, *_: Any) -> None:
        self.count += 1


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _too_large(send, self.max_bytes)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except BodyTooLarge:
            await _too_large(send, self.max_bytes)


class JsonPosts:
    """A POST to a GraphQL endpoint must say ``Content-Type: application/json``: a form or plain
    text body is what a cross-site page can send without a CORS preflight (CSRF), so any other
    type is refused with 415 before the body is read."""

    def __init__(self, app: ASGIApp, paths: tuple[str, ...]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self.paths:
            content_type = b""
            for name, value in scope.get("headers", []):
                if name == b"content-type":
                    content_type = value
            media_type = content_type.split(b";", 1)[0].strip().lower()
            if media_type != b"application/json":
                await _refuse(
                    send,
                    415,
                    "a POST needs `Content-Type: application/json`",
                    "UNSUPPORTED_MEDIA_TYPE",
                )
                return
        await self.app(scope, receive, send)


async def _too_large(send: Send, max_bytes: int) -> None:
    await _refuse(send, 413, f"request body over {max_bytes} bytes", "PAYLOAD_TOO_LARGE")


async def _refuse(send: Send, status: int, message: str, code: str) -> None:
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
