"""The two GraphQL schemas and what every request passes through: error codes, trusted
documents, token, depth, alias, directive and cost limits, the parser and validation caches."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import strawberry
from graphql.error import GraphQLError
from graphql.validation import (
    ASTValidationRule,
    MaxIntrospectionDepthRule,
    NoSchemaIntrospectionCustomRule,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
)
from strawberry.extensions.max_aliases import create_validator as create_alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as create_depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from core.settings import Settings
from resolvers import admin_mutation, admin_query
from resolvers.by_identity import CACHED_DOCUMENTS, ValidationByDocument
from resolvers.cost import CostLimit
from resolvers.errors import SUGGESTION, ErrorCodes
from resolvers.hooks import HooksRunner
from resolvers.limits import DirectiveLimit
from resolvers.plain_fields import PlainFieldsExecutor
from resolvers.read_state import Mutation
from resolvers.subscription import Subscription
from resolvers.tracing import TraceTags
from resolvers.trusted import TrustedDocuments, TrustedDocumentsExtension
from resolvers.viewer import Query


class PointclubSchema(strawberry.Schema):
    """Strawberry logs every error with its traceback; ``ErrorCodes`` already logs the
    unexpected ones, and expected ones (bad input, no token) are not worth a traceback.

    Every error passes here before the extensions see it, including those Strawberry returns
    before the operation runs (a syntax error, too many tokens), which skip the extensions: the
    one place that codes document errors and, in production, drops suggestions."""

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Over HTTP (the only caller of ``execute``), no subscriptions: they need the WebSocket,
        where ``subscribe`` runs them. Strawberry would run one as a query and fail inside."""
        allowed = kwargs.get("allowed_operation_types") or HTTP_OPERATIONS
        kwargs["allowed_operation_types"] = set(allowed) - {OperationType.SUBSCRIPTION}
        try:
            return await super().execute(*args, **kwargs)
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.SUBSCRIPTION:
                raise SubscriptionOverHttp() from error
            raise

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> HooksRunner:
        """The extensions' hooks found once per class, not per request (resolvers/hooks.py)."""
        return HooksRunner(execution_context=execution_context, extensions=extensions)

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


HTTP_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})


class SubscriptionOverHttp(InvalidOperationTypeError):
    """A 400 that says where subscriptions are served."""

    def __init__(self) -> None:
        super().__init__(OperationType.SUBSCRIPTION)

    def as_http_error_reason(self, method: str) -> str:
        return (
            f"subscriptions are not served over {method}: open a WebSocket on this path "
            "(graphql-transport-ws)"
        )


def _extensions(
    production: bool, limits: Limits, trusted: TrustedDocuments | None = None
) -> list[Any]:
    # Factories, not instances: a fresh extension per request (the caches themselves are shared).
    rules = validation_rules(production, limits)
    documents: list[Any] = [] if trusted is None else [lambda: TrustedDocumentsExtension(trusted)]
    names: frozenset[str] = frozenset() if trusted is None else trusted.names
    return [
        lambda: TraceTags(names),  # first: its end runs after ErrorCodes has set the codes
        ErrorCodes,
        *documents,  # before the parser sees the document
        lambda: MaxTokensLimiter(max_token_count=limits.tokens),
        lambda: ParserCache(maxsize=CACHED_DOCUMENTS),
        lambda: AddValidationRules(list(rules)),
        ValidationByDocument,
        lambda: DirectiveLimit(max_directives=limits.directives),  # after the cache: it overrides
        lambda: CostLimit(max_cost=limits.cost, max_fields=limits.fields),
    ]


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
        subscription=Subscription,
        extensions=_extensions(production, limits, trusted),
        config=StrawberryConfig(disable_field_suggestions=production),
        execution_context_class=PlainFieldsExecutor,
    )


@lru_cache(maxsize=8)
def admin_schema(
    production: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    trusted: TrustedDocuments | None = None,
) -> strawberry.Schema:
    """A separate schema: admin fields do not exist on ``/graphql``."""
    return PointclubSchema(
        query=admin_query.Query,
        mutation=admin_mutation.Mutation,
        extensions=_extensions(production, limits, trusted),
        config=StrawberryConfig(disable_field_suggestions=production),
        execution_context_class=PlainFieldsExecutor,
    )
