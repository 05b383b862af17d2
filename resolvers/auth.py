"""Who is asking: the member (or operator) of a request's ``Authorization: Bearer`` token."""

from __future__ import annotations

from core.auth import Principal, TokenVerifier
from core.errors import Unauthenticated


def caller(
    header: str | None, verifier: TokenVerifier
) -> tuple[Principal | None, Unauthenticated | None]:
    """The token's principal; or why there is none (kept until a field needs a caller, so a
    request without one still gets the fields that need nobody)."""
    if not header:
        return None, None
    scheme, _, token = header.partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("expected `Authorization: Bearer <token>`")
        return verifier.verify(token.strip()), None
    except Unauthenticated as error:
        return None, error
