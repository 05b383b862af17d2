"""Configuration that would start unsafe is refused at start-up,: one line says what to set."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from core.settings import Settings

STRONG = SecretStr("s" * 32)


def refused(match: str, **values: object) -> None:
    with pytest.raises(ValidationError, match=match):
        Settings(**values)  # type: ignore[arg-type]


def test_production_refuses_a_short_hs256_secret() -> None:
    refused("has 1 bytes", env="production", jwt_secret=SecretStr("x"))
    refused("has 31 bytes", env="production", jwt_secret=SecretStr("s" * 31))
    assert Settings(env="production", jwt_secret=STRONG).is_production


def test_public_key_algorithms_need_a_key(tmp_path: Path) -> None:
    refused("needs POINTCLUB_JWT_PUBLIC_KEY_FILE", env="production", jwt_algorithms=["RS256"])
    refused("needs POINTCLUB_JWT_PUBLIC_KEY_FILE", jwt_algorithms=["ES256"])
    refused("no key file", jwt_algorithms=["RS256"], jwt_public_key_file=tmp_path / "missing.pem")
    refused(
        "choose one kind",
        env="production",
        jwt_algorithms=["HS256", "RS256"],
        jwt_secret=STRONG,
        jwt_public_key_file=Path(__file__),
    )


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://dynamodb.internal:8000",
        "https://dynamodb.ap-northeast-1.amazonaws.com",
        "http://10.0.0.5:8000",
    ],
)
def test_the_development_secret_only_on_this_machine(endpoint: str) -> None:
    """A deployment that sets an endpoint but forgets POINTCLUB_ENV would accept tokens anyone
    can sign with the published development secret."""
    refused("is not on this machine", dynamodb_endpoint=endpoint)
    assert Settings(dynamodb_endpoint=endpoint, jwt_secret=STRONG).dynamodb_endpoint == endpoint


@pytest.mark.parametrize(
    "endpoint", [None, "http://127.0.0.1:8001", "http://localhost:8000", "http://[::1]:8000"]
)
def test_development_defaults_work_with_a_local_store(endpoint: str | None) -> None:
    assert Settings(dynamodb_endpoint=endpoint).uses_development_secret
