"""Token verification: HS256 in development, RS256/ES256 by public key or JWKS in production."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import SecretStr, ValidationError

from core.auth import DevTokenIssuer, TokenVerifier
from core.errors import Forbidden, Unauthenticated
from core.settings import Settings


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "alice",
        "iss": "pointclub",
        "aud": "pointclub-app",
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_development_tokens_round_trip_with_roles_and_locale() -> None:
    settings = Settings()
    token = DevTokenIssuer(settings).issue("alice", admin=True, locale="en")
    principal = TokenVerifier(settings).verify(token)
    assert principal.user_id == "alice"
    assert principal.roles == {"admin"}
    assert principal.locale == "en"


@pytest.mark.parametrize(
    "bad",
    [
        claims(exp=int(time.time()) - 3600),
        claims(nbf=int(time.time()) + 3600),
        claims(iss="someone-else"),
        claims(aud="another-app"),
        claims(sub=None),
        claims(sub=""),
        claims(exp=None),
        claims(aud=None),
    ],
)
def test_hs256_tokens_with_bad_claims_are_refused(bad: dict[str, Any]) -> None:
    settings = Settings()
    token = jwt.encode(bad, settings.jwt_secret.get_secret_value(), algorithm="HS256")
    with pytest.raises(Unauthenticated):
        TokenVerifier(settings).verify(token)


def test_wrong_secret_and_alg_none_are_refused() -> None:
    settings = Settings()
    verifier = TokenVerifier(settings)
    with pytest.raises(Unauthenticated):
        verifier.verify(
            jwt.encode(claims(), "another-secret-of-enough-length-000000", algorithm="HS256")
        )
    unsigned = jwt.encode(claims(), key=None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated):
        verifier.verify(unsigned)


def hs256_by_hand(payload: dict[str, Any], secret: bytes) -> str:
    """PyJWT refuses to sign with a PEM key as HMAC secret; an attacker would not."""

    def part(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = part(b'{"alg":"HS256","typ":"JWT"}') + b"." + part(json.dumps(payload).encode())
    signature = part(hmac.new(secret, signing_input, hashlib.sha256).digest())
    return (signing_input + b"." + signature).decode()


def _rsa() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


def test_rs256_with_a_public_key_file(tmp_path: Path) -> None:
    key, public = _rsa()
    (tmp_path / "public.pem").write_text(public)
    settings = Settings(
        env="production",
        jwt_algorithms=["RS256"],
        jwt_public_key_file=tmp_path / "public.pem",
        dynamodb_endpoint="http://127.0.0.1:1",
    )
    verifier = TokenVerifier(settings)
    assert verifier.verify(jwt.encode(claims(), key, algorithm="RS256")).user_id == "alice"
    # Key confusion: an HS256 token "signed" with the public key must not pass.
    with pytest.raises(Unauthenticated):
        verifier.verify(hs256_by_hand(claims(), public.encode()))


def test_es256_from_a_jwks_file_by_kid(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "alg": "ES256", "use": "sig"})
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    settings = Settings(
        env="production",
        jwt_algorithms=["ES256"],
        jwt_jwks_file=tmp_path / "jwks.json",
        dynamodb_endpoint="http://127.0.0.1:1",
    )
    verifier = TokenVerifier(settings)
    good = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"})
    assert verifier.verify(good).user_id == "alice"
    unknown = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k2"})
    with pytest.raises(Unauthenticated):
        verifier.verify(unknown)


def test_production_refuses_the_development_secret_and_dev_tokens() -> None:
    with pytest.raises(ValidationError):
        Settings(env="production")
    settings = Settings(
        env="production", jwt_secret=SecretStr("a-real-secret-from-the-vault-0123456789")
    )
    with pytest.raises(Forbidden):
        DevTokenIssuer(settings).issue("alice")


def test_the_expiry_is_kept_and_one_past_what_a_date_holds_is_not_a_crash() -> None:
    settings = Settings()
    secret = settings.jwt_secret.get_secret_value()
    exp = int(time.time()) + 600
    principal = TokenVerifier(settings).verify(jwt.encode(claims(exp=exp), secret, "HS256"))
    assert principal.expires_at is not None and int(principal.expires_at.timestamp()) == exp
    in_milliseconds = jwt.encode(claims(exp=exp * 1000), secret, "HS256")
    assert TokenVerifier(settings).verify(in_milliseconds).expires_at is None


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def counting_decode(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    decoded: list[str] = []
    decode = jwt.decode

    def spy(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", spy)
    return decoded


def test_a_verified_token_is_not_checked_again_until_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings()
    clock = Clock()
    decoded = counting_decode(monkeypatch)
    verifier = TokenVerifier(settings, clock=clock)
    exp = int(clock.now) + 600
    token = jwt.encode(claims(exp=exp), settings.jwt_secret.get_secret_value(), "HS256")
    first = verifier.verify(token)
    assert verifier.verify(token) is first and len(decoded) == 1
    # Expired as PyJWT says: once exp <= now - leeway, even from the cache.
    clock.now = exp + settings.jwt_leeway_seconds - 0.5
    assert verifier.verify(token) is first
    clock.now = exp + settings.jwt_leeway_seconds
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


def test_a_refused_token_is_checked_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    decoded = counting_decode(monkeypatch)
    verifier = TokenVerifier(settings)
    good = jwt.encode(claims(), settings.jwt_secret.get_secret_value(), "HS256")
    verifier.verify(good)
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")  # same claims, bad signature
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            verifier.verify(forged)
    assert decoded == [good, forged, forged]


def test_the_verified_tokens_kept_are_bounded() -> None:
    settings = Settings()
    verifier = TokenVerifier(settings)
    verifier.VERIFIED_LIMIT = 3
    secret = settings.jwt_secret.get_secret_value()
    tokens = [jwt.encode(claims(sub=f"member-{n}"), secret, "HS256") for n in range(5)]
    for token in tokens:
        assert verifier.verify(token).user_id.startswith("member-")
    assert list(verifier._verified) == tokens[2:]
    # A long token (a large claim) is verified, but never kept.
    long = jwt.encode(claims(padding="x" * verifier.LONGEST_KEPT), secret, "HS256")
    assert verifier.verify(long).user_id == "alice"
    assert long not in verifier._verified and list(verifier._verified) == tokens[2:]


def test_the_remembered_expiry_is_pyjwts_whole_seconds_and_any_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings()
    clock = Clock()
    verifier = TokenVerifier(settings, clock=clock)
    secret = settings.jwt_secret.get_secret_value()
    exp = int(clock.now) + 600
    fractional = jwt.encode(claims(exp=exp + 0.9), secret, "HS256")
    verifier.verify(fractional)
    clock.now = exp + settings.jwt_leeway_seconds + 0.5  # PyJWT: int(exp) <= now - leeway
    with pytest.raises(Unauthenticated):
        verifier.verify(fractional)
    # An exp past what a float holds is still a valid (never-ending) token, not a crash.
    far = jwt.encode(claims(exp=10**400), secret, "HS256")
    assert verifier.verify(far).expires_at is None
    assert verifier.verify(far).user_id == "alice"
