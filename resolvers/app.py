"""The Starlette application: ``/graphql``, ``/healthz``, ``/readyz``; one container per process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import strawberry
import structlog
from cross_web import HTTPException
from graphql.error import GraphQLError
from graphql.validation import (
    ASTValidationRule,
    MaxIntrospectionDepthRule,
    NoSchemaIntrospectionCustomRule,
)
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as create_alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as create_depth_rule
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.types import ExecutionResult as StrawberryExecutionResult

from core.bootstrap import Container, open_container
from core.errors import Unauthenticated, Unavailable
from core.queries.inbox import InboxQueries
from core.queries.pointclub import PointClubQueries
from core.settings import Settings
from resolvers.admin import AdminResolvers
from resolvers.background import ReadCounting
from resolvers.context import Context, parse_accept_language
from resolvers.cost import CostLimit
from resolvers.dataloaders import DataLoaders
from resolvers.errors import SUGGESTION, UNAVAILABLE_MESSAGE, ErrorCodes
from resolvers.limits import BodyLimit, DirectiveLimit, JsonPosts
from resolvers.public import PublicResolvers
from resolvers.tracing import TraceTags
from resolvers.trusted import TrustedDocuments, TrustedDocumentsExtension
from schema import admin
from schema.public import Mutation, Query

Startup = Callable[[Container], Awaitable[None]]
log = structlog.get_logger("pointclub.graphql")
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


class PointclubSchema(strawberry.Schema):
    """Strawberry logs every error with its traceback; ``ErrorCodes`` already logs the
    unexpected ones, and expected ones (bad input, no token) are not worth a traceback.

    Every error passes here before the extensions see it, including those Strawberry returns
    before the operation runs (a syntax error, too many tokens), which skip the extensions: the
    one place that codes document errors and, in production, drops suggestions."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if self.config.disable_field_suggestions:
                error.message = SUGGESTION.sub("", error.message)
            if error.original_error is None and not (error.extensions or {}).get("code"):
                syntax = error.message.startswith("Syntax Error")
                code = "GRAPHQL_PARSE_FAILED" if syntax else "GRAPHQL_VALIDATION_FAILED"
                error.extensions = {**(error.extensions or {}), "code": code}


def _extensions(
    production: bool, limits: Limits, trusted: TrustedDocuments | None = None
) -> list[Any]:
    # Factories, not instances: a fresh extension per request (the caches themselves are shared).
    rules = validation_rules(production, limits)
    documents: list[Any] = [] if trusted is None else [lambda: TrustedDocumentsExtension(trusted)]
    return [
        TraceTags,  # first: its end runs after ErrorCodes has set the codes
        ErrorCodes,
        *documents,  # before the parser sees the document
        lambda: MaxTokensLimiter(max_token_count=limits.tokens),
        lambda: ParserCache(maxsize=CACHED_DOCUMENTS),
        lambda: AddValidationRules(list(rules)),
        lambda: ValidationCache(maxsize=CACHED_DOCUMENTS),
        lambda: DirectiveLimit(max_directives=limits.directives),  # after the cache: it overrides
        lambda: CostLimit(max_cost=limits.cost, max_fields=limits.fields),
    ]


CACHED_DOCUMENTS = 256


@lru_cache(maxsize=8)
def validation_rules(production: bool, limits: Limits) -> tuple[type[ASTValidationRule], ...]:
    """The limit rules, made once. Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter``
    make a new rule class per instance, that is per request: the validation cache is keyed by the
    rules, so with them it never hit and every request paid for a full validation."""
    rules: list[type[ASTValidationRule]] = [
        create_depth_rule(limits.depth, None),
        create_alias_rule(limits.aliases),
        # Introspection is outside the depth limit; this bounds its nesting (graphql-js's rule).
        MaxIntrospectionDepthRule,
    ]
    if production:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


@dataclass(frozen=True)
class Limits:
    depth: int = 10
    aliases: int = 15
    tokens: int = 2_000
    directives: int = 10
    cost: int = 1_000
    fields: int = 300

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            depth=settings.max_query_depth,
            aliases=settings.max_aliases,
            tokens=settings.max_tokens,
            directives=settings.max_directives,
            cost=settings.max_query_cost,
            fields=settings.max_fields,
        )


DEFAULT_LIMITS = Limits()


@lru_cache(maxsize=8)
def public_schema(
    production: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    trusted: TrustedDocuments | None = None,
) -> strawberry.Schema:
    return PointclubSchema(
        query=Query,
        mutation=Mutation,
        extensions=_extensions(production, limits, trusted),
        config=StrawberryConfig(disable_field_suggestions=production),
    )


@lru_cache(maxsize=8)
def admin_schema(production: bool = False, limits: Limits = DEFAULT_LIMITS) -> strawberry.Schema:
    """A separate schema: admin fields do not exist on ``/graphql``."""
    return PointclubSchema(
        query=admin.Query,
        mutation=admin.Mutation,
        extensions=_extensions(production, limits),
        config=StrawberryConfig(disable_field_suggestions=production),
    )


class PointclubGraphQL(GraphQL[Context, None]):
    """Builds a fresh ``Context`` (caller, locale, instant, loaders) for every request."""

    def __init__(self, settings: Settings, schema: strawberry.Schema, *, allow_get: bool) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            allow_queries_via_get=allow_get,
        )
        self._settings = settings
        self._resolvers = PublicResolvers()
        self._admin = AdminResolvers()
        self._deadline = settings.dynamodb_timeout_seconds

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
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        try:
            return text.encode()
        except UnicodeEncodeError:
            # Text stored before the door refused it (a lone surrogate): answer, never 500.
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
        principal = None
        auth_error: Unauthenticated | None = None
        header = request.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            try:
                if scheme.lower() != "bearer" or not token.strip():
                    raise Unauthenticated("expected `Authorization: Bearer <token>`")
                principal = container.verifier.verify(token.strip())
            except Unauthenticated as error:
                auth_error = error
        locales = parse_accept_language(request.headers.get("accept-language"))
        if not locales and principal is not None and principal.locale:
            locales = (principal.locale.lower(),)
        loaders = DataLoaders.create(
            members=container.members,
            notifications=container.notifications,
            recalls=container.recalls,
        )
        default_locale = self._settings.default_locale
        return Context(
            request=request,
            response=response if isinstance(response, Response) else None,
            principal=principal,
            auth_error=auth_error,
            locales=locales,
            now=container.clock.now(),
            loaders=loaders,
            inbox=InboxQueries(
                members=loaders.members,
                notifications=loaders.notifications,
                recalls=loaders.recalls,
                default_locale=default_locale,
                categories=self._settings.categories,
            ),
            point_club=PointClubQueries(
                members=loaders.members, ranks=container.ranks, default_locale=default_locale
            ),
            read_state=container.read_state_commands(),
            clock=container.clock,
            read_counting=request.app.state.read_counting,
            admin_queries=container.admin_queries(),
            authoring=container.authoring(),
            segment_authoring=container.segment_authoring(),
            admin_role=self._settings.jwt_admin_role,
            public=self._resolvers,
            admin=self._admin,
        )


def _valid_text(document: object) -> bool:
    try:
        json.dumps(document, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    container: Container = request.app.state.container
    try:
        await container.system.ping()
    except Unavailable:
        return JSONResponse({"status": "unavailable", "dynamodb": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ready"})


def install(app: Starlette, container: Container) -> None:
    """Attach the process-wide dependencies to the app (the lifespan does it; tests may too)."""
    app.state.container = container
    app.state.read_counting = ReadCounting(container.read_stats)


def create_app(
    settings: Settings,
    *,
    on_startup: Startup | None = None,
    container: Container | None = None,
) -> Starlette:
    """The ASGI app. It opens its own container in the lifespan unless one is handed in (tests)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if container is not None:
            install(app, container)
            yield
            await app.state.read_counting.drain()
            return
        async with open_container(settings) as opened:
            install(app, opened)
            if on_startup is not None:
                await on_startup(opened)
            yield
            await app.state.read_counting.drain()

    limits = Limits.of(settings)
    trusted = TrustedDocuments.load(
        settings.trusted_documents_file, only=settings.trusted_documents_only
    )
    public = PointclubGraphQL(
        settings, public_schema(settings.is_production, limits, trusted), allow_get=True
    )
    admin_api = PointclubGraphQL(
        settings, admin_schema(settings.is_production, limits), allow_get=False
    )
    return Starlette(
        middleware=[
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
            Middleware(JsonPosts, paths=("/graphql", "/admin/graphql")),
        ],
        routes=[
            Route("/graphql", public, methods=["GET", "POST"]),
            Route("/admin/graphql", admin_api, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
