"""Error masking: expected errors keep their message and ``extensions.code``; the rest is masked."""

from __future__ import annotations

import re

import structlog
from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from core.errors import InvalidInput, PointclubError, Unavailable

MASKED_MESSAGE = "Internal server error"
# What clients see of any store failure; the action and the engine's code go to the log.
UNAVAILABLE_MESSAGE = "The service is temporarily unavailable; retry later"
# "Did you mean …?" names fields, arguments, types and enum values of the schema.
SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
log = structlog.get_logger("pointclub.graphql")


class ErrorCodes(MaskErrors):
    """Adds ``extensions.code`` to every error and masks anything that is not ours."""

    def __init__(self) -> None:
        super().__init__(error_message=MASKED_MESSAGE)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [self._process(error) for error in errors]

    def _process(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None:
            # A document error (or a limit's): ``PointclubSchema.process_errors``, which sees
            # every error first, has coded it already.
            return error
        if isinstance(original, Unavailable):
            log.warning("store unavailable", path=error.path, detail=str(original))
            return _with_extensions(error, UNAVAILABLE_MESSAGE, {"code": original.code})
        if isinstance(original, PointclubError):
            extensions: dict[str, object] = {"code": original.code}
            if isinstance(original, InvalidInput) and original.field is not None:
                extensions["field"] = original.field
            return _with_extensions(error, str(original), extensions)
        if isinstance(original, GraphQLError):
            # Argument coercion errors (a wrong type of variable) are the caller's.
            return _with_extensions(error, error.message, {"code": "BAD_USER_INPUT"})
        log.error(
            "unexpected error in a resolver",
            path=error.path,
            error_type=type(original).__name__,
            exc_info=original,
        )
        return _with_extensions(error, MASKED_MESSAGE, {"code": "INTERNAL_SERVER_ERROR"})


def _with_extensions(
    error: GraphQLError, message: str, extensions: dict[str, object]
) -> GraphQLError:
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )
