"""Bearer tokens: verification for every request, issuing for development only."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from core.domain.audience import MEMBER_ID
from core.errors import Forbidden, Unauthenticated
from core.settings import Settings


@dataclass(frozen=True)
class Principal:
    """Who is calling: the member id (``sub``), their roles and preferred locale."""

    user_id: str
    roles: frozenset[str]
    locale: str | None = None
    expires_at: datetime | None = None  # the token's exp: a live connection ends then


class TokenVerifier:
    """Checks signature, ``exp``/``nbf``/``iss``/``aud`` and a non-empty ``sub``.

    HS256 with a shared secret in development; RS256/ES256 with a public key file or a JWKS file
    (keys chosen by ``kid``) in production. The accepted algorithms are fixed by configuration,
    never taken from the token, so ``alg: none`` and key-confusion tokens fail.
    """

    # Tokens verified so far, answered without their signature checked again (a front-end sends
    # the same token on every request until it expires; an RS256 check costs far more than a
    # lookup). Keyed by the whole token, so only the exact bytes once verified can hit; expiry
    # and not-before are checked on every hit as PyJWT checks them. At most this many, oldest
    # dropped first, and only tokens of a usual size (a few hundred bytes; a longer one is
    # checked every time), so the table stays within a few megabytes.
    VERIFIED_LIMIT = 4096
    LONGEST_KEPT = 4096

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._verified: dict[str, tuple[Principal, float, float | None]] = {}
        self._algorithms = list(settings.jwt_algorithms)
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_seconds
        self._jwks: jwt.PyJWKSet | None = None
        self._key: Any
        if settings.jwt_jwks_file is not None:
            self._jwks = jwt.PyJWKSet.from_dict(json.loads(settings.jwt_jwks_file.read_text()))
        elif settings.jwt_public_key_file is not None:
            self._key = settings.jwt_public_key_file.read_text()
        else:
            self._key = settings.jwt_secret.get_secret_value()

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, expires, not_before = known
            now = self._clock()
            # PyJWT's rules: expired once exp <= now - leeway, early while nbf > now + leeway.
            if now >= expires + self._leeway:
                self._verified.pop(token, None)
                raise Unauthenticated("invalid or expired token")
            if not_before is None or not_before <= now + self._leeway:
                return principal
            self._verified.pop(token, None)  # the clock went back: the full check decides
        principal, expires, not_before = self._check(token)
        if len(token) > self.LONGEST_KEPT:
            return principal
        if len(self._verified) >= self.VERIFIED_LIMIT:
            with suppress(KeyError, RuntimeError, StopIteration):  # another thread got there
                del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, expires, not_before)
        return principal

    def _check(self, token: str) -> tuple[Principal, float, float | None]:
        try:
            key = self._key_for(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as error:
            raise Unauthenticated("invalid or expired token") from error
        subject = claims.get("sub")
        # The member id goes into keys and notification ids: the same rule as imports follow.
        if not isinstance(subject, str) or not MEMBER_ID.fullmatch(subject):
            raise Unauthenticated("invalid or expired token")
        roles = claims.get("roles", [])
        locale = claims.get("locale")
        principal = Principal(
            user_id=subject,
            roles=frozenset(r for r in roles if isinstance(r, str))
            if isinstance(roles, list)
            else frozenset(),
            locale=locale if isinstance(locale, str) else None,
            expires_at=_instant(claims.get("exp")),
        )
        # Whole seconds, as PyJWT compares them (int() of the claim; no overflow however large).
        not_before = claims.get("nbf")
        return principal, int(claims["exp"]), None if not_before is None else int(not_before)

    def _key_for(self, token: str) -> Any:
        if self._jwks is None:
            return self._key
        kid = jwt.get_unverified_header(token).get("kid")
        for candidate in self._jwks.keys:
            if candidate.key_id == kid:
                return candidate.key
        raise Unauthenticated("unknown signing key")


def _instant(exp: object) -> datetime | None:
    """``exp`` as an instant; one past what a datetime holds (an exp in milliseconds, say)
    never ends within a connection's life: None."""
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return None
    try:
        return datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


class DevTokenIssuer:
    """Signs development tokens with the HS256 secret; refused in production."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def issue(
        self,
        user_id: str,
        *,
        admin: bool = False,
        ttl: timedelta = timedelta(hours=1),
        locale: str | None = None,
        now: datetime | None = None,
    ) -> str:
        if self._settings.is_production:
            raise Forbidden("development tokens are disabled in production")
        if not user_id.strip():
            raise ValueError("user id must not be empty")
        issued = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "sub": user_id,
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "iat": int(issued.timestamp()),
            "nbf": int(issued.timestamp()),
            "exp": int((issued + ttl).timestamp()),
            "roles": [self._settings.jwt_admin_role] if admin else [],
        }
        if locale:
            claims["locale"] = locale
        return jwt.encode(claims, self._settings.jwt_secret.get_secret_value(), algorithm="HS256")
