"""The one error hierarchy of the core.

Adapters translate engine errors into these (keeping the cause); the GraphQL layer maps each to an
``extensions.code`` and masks anything that is not one of them.
"""

from __future__ import annotations

from dataclasses import dataclass


class PointclubError(Exception):
    """Base of every expected failure; ``code`` is what API clients see in ``extensions.code``."""

    code = "INTERNAL_SERVER_ERROR"


class Unauthenticated(PointclubError):
    """No valid credentials."""

    code = "UNAUTHENTICATED"


class Forbidden(PointclubError):
    """Valid credentials that do not allow this operation."""

    code = "FORBIDDEN"


class InvalidInput(PointclubError):
    """Bad input from the caller; ``field`` names the offending argument when there is one."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field, as an admin UI shows it next to the field."""

    field: str
    message: str


class ValidationFailed(InvalidInput):
    """Several field errors at once; nothing was changed."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(
            "; ".join(f"{e.field}: {e.message}" for e in errors), field=errors[0].field
        )
        self.errors = errors


class NotFound(PointclubError):
    """The thing asked for does not exist (or is not the caller's to see)."""

    code = "NOT_FOUND"


class Conflict(PointclubError):
    """The request contradicts the current state (wrong state, reused idempotency key)."""

    code = "CONFLICT"


class Unavailable(PointclubError):
    """A dependency (DynamoDB) did not answer; retrying later may succeed."""

    code = "UNAVAILABLE"
