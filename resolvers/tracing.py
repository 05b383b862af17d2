"""GraphQL facts on the request's root span: which operation, and whether it failed.

Strawberry runs parse, validate and execute itself, so ddtrace's GraphQL integration gives spans
for those steps but no request-level span, and never flags a GraphQL error on the HTTP span. The
root span is ``resolvers.request_spans``'s, which adds the operation's name to its
resource (``POST /graphql Home``) when the name is one of the trusted documents' manifest. Any
other name is only tagged: a caller choosing names would otherwise make a resource of each.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from core.observability.spans import tracer
from resolvers.request_spans import LONGEST_TAG, RESOURCE_OPERATION

# Codes that mean the server failed, not the caller.
SERVER_FAILURES = {"INTERNAL_SERVER_ERROR", "UNAVAILABLE"}


class TraceTags(SchemaExtension):
    def __init__(self, resource_names: frozenset[str] = frozenset()) -> None:
        self.resource_names = resource_names  # the operations the root's resource may name

    def on_operation(self) -> Iterator[None]:
        yield
        span = tracer.current_root_span()
        if span is None:
            return
        context = self.execution_context
        name = context.operation_name or "anonymous"
        span.set_tag("graphql.operation.name", name[:LONGEST_TAG])
        if name in self.resource_names:
            scope = getattr(getattr(context.context, "request", None), "scope", None)
            if isinstance(scope, dict):
                scope[RESOURCE_OPERATION] = name
        operation = getattr(context, "operation_type", None)
        if operation is not None:
            span.set_tag("graphql.operation.type", str(getattr(operation, "value", operation)))
        result = context.result
        errors = getattr(result, "errors", None) or []
        codes = sorted({str((error.extensions or {}).get("code", "UNKNOWN")) for error in errors})
        if codes:
            span.set_tag("graphql.error.codes", ",".join(codes))
        failed = SERVER_FAILURES & set(codes)
        if failed:
            span.error = 1
            span.set_tag("error.type", "graphql")
            span.set_tag("error.message", ", ".join(sorted(failed)))
