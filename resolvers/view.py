"""Strawberry's ASGI view, as pointclub serves it: a fresh ``Context`` per request, one deadline
per operation, strict JSON in, UTF-8 JSON out, and GraphQL over HTTP's own media type."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
import strawberry
import structlog
from cross_web import HTTPException
from graphql.error import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.base import BaseRequestProtocol
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult as StrawberryExecutionResult

from core.bootstrap import Container
from core.errors import Unavailable
from core.settings import Settings
from resolvers.context import Context
from resolvers.errors import UNAVAILABLE_MESSAGE
from resolvers.live import LiveConnection
from resolvers.trusted import TrustedDocuments

log = structlog.get_logger("pointclub.graphql")
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


class PointclubGraphQL(GraphQL[Context, None]):
    """Builds a fresh ``Context`` (caller, locale, instant, loaders) for every request; with
    ``live``, serves subscriptions over graphql-transport-ws (``resolvers/live.py``)."""

    graphql_transport_ws_handler_class = LiveConnection

    def __init__(
        self,
        settings: Settings,
        schema: strawberry.Schema,
        *,
        allow_get: bool,
        live: bool = False,
        trusted: TrustedDocuments | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            allow_queries_via_get=allow_get,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,) if live else (),
            max_subscriptions_per_connection=settings.ws_max_subscriptions_per_connection,
            allowed_origins=tuple(settings.ws_allowed_origins),
        )
        self._deadline = settings.dynamodb_timeout_seconds
        self.trusted = trusted  # the WebSocket handler checks subscriptions against it

    async def execute_single(  # type: ignore[override]  # forwards the keywords as they come
        self, **kwargs: Any
    ) -> StrawberryExecutionResult:
        """The whole operation within the store's timeout: each DynamoDB call is bounded, and
        this bounds a request that makes several in a row. Past it: UNAVAILABLE, nothing else."""
        try:
            async with asyncio.timeout(self._deadline):
                result: StrawberryExecutionResult = await super().execute_single(**kwargs)
                return result
        except TimeoutError:
            log.warning("request.deadline", seconds=self._deadline)
            error = GraphQLError(UNAVAILABLE_MESSAGE, extensions={"code": Unavailable.code})
            return StrawberryExecutionResult(data=None, errors=[error])

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A GET that names a trusted document by hash has no `query` but is an operation.
        return "extensions" not in request.query_params and super().should_render_graphql_ide(
            request
        )

    def parse_json(self, data: str | bytes) -> Any:
        """A body (and GET's variables and extensions) must be a JSON object of valid text: a
        lone surrogate escape (``"\\ud800"``) decodes to a string nothing can store or send."""
        if isinstance(data, bytes):
            try:  # strictly: json.loads would let encoded surrogates (b"\xed\xa0\x80") through
                data = data.decode("utf-8")
            except UnicodeDecodeError as error:
                raise HTTPException(400, "The request is not UTF-8 text") from error
        parsed = super().parse_json(data)
        if not isinstance(parsed, dict):
            raise HTTPException(400, "The request must be a JSON object")
        if "\\u" in data and not _valid_text(parsed):
            raise HTTPException(400, "The request holds text that is not valid Unicode")
        return parsed

    def encode_json(self, data: object) -> bytes:
        # UTF-8 as is: Japanese content is a third the size of its \uXXXX escapes.
        try:
            return orjson.dumps(data)
        except TypeError:
            # Text stored before the door refused it (a lone surrogate), or a value orjson does
            # not know: the standard encoder, replacing what UTF-8 cannot hold; never a 500.
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            return text.encode(errors="replace")

    async def process_result(
        self, request: Request, result: StrawberryExecutionResult
    ) -> GraphQLHTTPResponse:
        """GraphQL over HTTP's own media type, for clients that ask for it: a request error (the
        document did not parse or validate, a variable did not coerce, an unknown trusted
        document: errors without a path, nothing executed) is a 400 without ``data``."""
        processed = await super().process_result(request, result)
        accept = request.headers.get("accept", "")
        if GRAPHQL_RESPONSE_JSON not in accept:
            return processed
        response: Response | None = getattr(request.state, "graphql_response", None)
        if response is None:
            return processed
        response.media_type = GRAPHQL_RESPONSE_JSON
        errors = result.errors or []
        if result.data is None and errors and all(e.path is None for e in errors):
            response.status_code = 400
            processed.pop("data", None)
        return processed

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if sub_response.media_type == GRAPHQL_RESPONSE_JSON:
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
        return response

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> Context:
        if isinstance(request, Request) and isinstance(response, Response):
            request.state.graphql_response = response  # for process_result
        container: Container = request.app.state.container
        return Context.for_request(
            container, request, response if isinstance(response, Response) else None
        )


def _valid_text(document: object) -> bool:
    try:
        json.dumps(document, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True
