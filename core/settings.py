"""Settings from the environment (``POINTCLUB_`` prefix); read by entrypoints and bootstrap."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.domain.broadcast import DEFAULT_MAX_LIVE, MAX_LIVE_LIMIT
from core.domain.wallet import UseOrder

DEV_JWT_SECRET = "pointclub-development-secret-do-not-use-in-production"
MIN_SECRET_BYTES = 32  # HS256 wants a key at least as long as its hash
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob of the process; production refuses the development defaults."""

    model_config = SettingsConfigDict(env_prefix="POINTCLUB_", extra="ignore")

    env: Environment = Environment.DEVELOPMENT

    # DynamoDB. With no endpoint in development, commands use the embedded store on loopback.
    table_name: str = "pointclub"
    dynamodb_endpoint: str | None = None
    aws_region: str = "ap-northeast-1"
    embedded_port: int = 8001
    dynamodb_max_pool_connections: int = 64
    # The longest a call (its retries included) and a GraphQL request wait on DynamoDB; past
    # it the answer is UNAVAILABLE. The attempts share it.
    dynamodb_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    dynamodb_max_attempts: int = Field(default=3, ge=1, le=10)
    # Copies of the live list (recalled ids, live broadcasts); each member reads one, so no
    # single hot key. A broadcast's publish writes all of them in one transaction.
    recall_shards: int = Field(default=8, ge=1, le=50)
    # Live broadcasts the list holds; a publish past it is refused (docs/SCALING.md).
    max_live_broadcasts: int = Field(default=DEFAULT_MAX_LIVE, ge=1, le=MAX_LIVE_LIMIT)
    # prepare-due publishes a scheduled broadcast this long before its visibleFrom, so it shows
    # at that instant with no job running then (edits are refused from the publish on).
    broadcast_lead_seconds: int = Field(default=600, ge=0, le=86_400)
    # The shared cache of notification items members read (core/infra/content_cache.py): amends
    # and recalls show at once whatever these are; the age bounds only edits made around this
    # version's writers. An item is at most what one admin request carries (64 KB). 0 in either
    # turns it off.
    content_cache_seconds: float = Field(default=60, ge=0, le=3_600)
    content_cache_items: int = Field(default=1_024, ge=0, le=100_000)

    # Live inbox events (docs/ARCHITECTURE.md, "Live events"). With no broker URL in
    # development, `serve` starts an embedded one on loopback and commands publish there.
    redis_url: SecretStr | None = None
    embedded_events_port: int = 8002
    # Events a subscription may have waiting; a client that falls further behind is closed
    # (4008) and refetches.
    events_queue: int = Field(default=100, ge=1, le=10_000)
    # Subscribers whose events are read from the store at once (bounds a broadcast's burst).
    events_concurrency: int = Field(default=64, ge=1, le=1_000)
    ws_ping_seconds: float = Field(default=20.0, ge=0.1, le=300)
    ws_max_connections_per_member: int = Field(default=10, ge=1, le=1_000)
    ws_max_subscriptions_per_connection: int = Field(default=5, ge=1, le=100)
    # Pages on other origins that may open the WebSocket (same-origin pages and non-browser
    # clients always may; "*" for any).
    ws_allowed_origins: list[str] = []

    # Authentication.
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_public_key_file: Path | None = None
    jwt_jwks_file: Path | None = None
    jwt_algorithms: list[str] = ["HS256"]
    jwt_issuer: str = "pointclub"
    jwt_audience: str = "pointclub-app"
    jwt_admin_role: str = "admin"
    jwt_leeway_seconds: int = 30

    # Content.
    default_locale: str = "ja"
    categories: list[str] = ["campaign", "point", "rank", "system", "news"]
    ranks_file: Path = PROJECT_ROOT / "config" / "ranks.json"
    # Which points a use takes first (core.domain.wallet.UseOrder); uses already imported keep
    # what they took.
    point_use_order: UseOrder = UseOrder.FREE_FIRST

    # GraphQL.
    graphiql: bool | None = None  # None: on in development, off in production
    max_query_depth: int = Field(default=10, ge=2)
    max_aliases: int = Field(default=15, ge=1)
    max_tokens: int = Field(default=2_000, ge=100)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_directives: int = Field(default=10, ge=1)
    max_query_cost: int = Field(default=1_000, ge=100)  # a connection costs its `first`
    max_fields: int = Field(default=300, ge=20)
    # Trusted documents (docs/SECURITY.md): the manifest is always read, so clients may send a
    # document's sha256 instead of its text; in trusted-only mode nothing else is accepted.
    trusted_documents_file: Path | None = PROJECT_ROOT / "config" / "trusted-documents.json"
    trusted_documents_only: bool = False
    # The operator console's operations (``config/admin-operations``), the same way.
    admin_trusted_documents_file: Path | None = (
        PROJECT_ROOT / "config" / "admin-trusted-documents.json"
    )
    admin_trusted_documents_only: bool = False

    # Web pages (docs/WEB.md): the member's inbox at / and the operator console at /admin.
    web_pages: bool | None = None  # None: on in development, off in production
    # `serve` runs prepare-due in process this often (its embedded default: 2 s), so a
    # notification the console publishes shows with no scheduler; None: only the CLI does.
    serve_prepare_due_seconds: float | None = Field(default=None, ge=0.1, le=3_600)

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def graphiql_enabled(self) -> bool:
        return (not self.is_production) if self.graphiql is None else self.graphiql

    @property
    def web_pages_enabled(self) -> bool:
        return (not self.is_production) if self.web_pages is None else self.web_pages

    @model_validator(mode="after")
    def _trusted_only_needs_a_manifest(self) -> Self:
        for prefix, only, manifest in (
            ("", self.trusted_documents_only, self.trusted_documents_file),
            ("ADMIN_", self.admin_trusted_documents_only, self.admin_trusted_documents_file),
        ):
            if only and (manifest is None or not manifest.is_file()):
                raise ValueError(
                    f"POINTCLUB_{prefix}TRUSTED_DOCUMENTS_ONLY needs "
                    f"POINTCLUB_{prefix}TRUSTED_DOCUMENTS_FILE, a manifest built by "
                    f"`pointclub trusted-documents` (there is none at {manifest})"
                )
        return self

    @model_validator(mode="after")
    def _keys_that_can_verify(self) -> Self:
        asymmetric = [alg for alg in self.jwt_algorithms if not alg.startswith("HS")]
        has_key = self.jwt_public_key_file is not None or self.jwt_jwks_file is not None
        if asymmetric and not has_key:
            raise ValueError(
                f"POINTCLUB_JWT_ALGORITHMS={','.join(asymmetric)} needs "
                "POINTCLUB_JWT_PUBLIC_KEY_FILE or POINTCLUB_JWT_JWKS_FILE"
            )
        if asymmetric and len(asymmetric) < len(self.jwt_algorithms):
            raise ValueError(
                "POINTCLUB_JWT_ALGORITHMS mixes HS (a shared secret) with public-key algorithms: "
                "choose one kind"
            )
        for path in (self.jwt_public_key_file, self.jwt_jwks_file):
            if path is not None and not path.is_file():
                raise ValueError(f"no key file at {path}")
        return self

    @model_validator(mode="after")
    def _development_defaults_only_on_this_machine(self) -> Self:
        """The development secret is public: with it anyone can sign an admin token. It is
        accepted only while the data is this machine's (the embedded store or a loopback
        endpoint); a deployment that sets an endpoint but forgets POINTCLUB_ENV stops here."""
        if self.is_production or not self.uses_development_secret:
            return self
        endpoint = self.dynamodb_endpoint
        if endpoint is None or is_loopback(endpoint):
            return self
        raise ValueError(
            f"POINTCLUB_DYNAMODB_ENDPOINT={endpoint} is not on this machine, and the JWT secret "
            "is the public development one: set POINTCLUB_ENV=production (with a key), or "
            "POINTCLUB_JWT_SECRET"
        )

    @property
    def uses_development_secret(self) -> bool:
        uses_hmac = any(alg.startswith("HS") for alg in self.jwt_algorithms)
        return uses_hmac and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET

    @model_validator(mode="after")
    def _refuse_development_defaults_in_production(self) -> Self:
        if not self.is_production:
            return self
        uses_hmac = any(alg.startswith("HS") for alg in self.jwt_algorithms)
        if self.uses_development_secret:
            raise ValueError(
                "POINTCLUB_ENV=production with the development JWT secret: set "
                "POINTCLUB_JWT_SECRET or use RS256/ES256 with POINTCLUB_JWT_PUBLIC_KEY_FILE "
                "or POINTCLUB_JWT_JWKS_FILE"
            )
        secret_bytes = len(self.jwt_secret.get_secret_value().encode())
        if uses_hmac and secret_bytes < MIN_SECRET_BYTES:
            raise ValueError(
                f"POINTCLUB_JWT_SECRET has {secret_bytes} bytes: HS256 needs at least "
                f"{MIN_SECRET_BYTES} random bytes in production (RFC 7518 3.2)"
            )
        if self.dynamodb_endpoint is None and self.aws_region == "":
            raise ValueError(
                "POINTCLUB_ENV=production needs AWS settings or POINTCLUB_DYNAMODB_ENDPOINT"
            )
        return self


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
