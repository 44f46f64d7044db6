"""Application settings: environment variables are the source of truth.

Every tunable lives here with a sane default; `check_for_environment` adds the rules that
only apply outside development (no default secrets, no SQLite, ...).
"""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated, Literal

from babel import Locale, UnknownLocaleError
from limits import parse as parse_rate_limit
from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

from app.core.features import DEFAULTS, Feature

AppEnv = Literal["dev", "test", "staging", "prod"]

# A recognisable placeholder: anything that still carries it is refused outside dev/test.
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-0000000000"
MIN_SECRET_LENGTH = 32


def _split_csv(value: object) -> object:
    """Accept `a,b,c` (friendly in env files) as well as a JSON list."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            return value
        return [item.strip() for item in stripped.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="",
        case_sensitive=False,
        extra="ignore",
        env_ignore_empty=True,  # `REDIS_URL=` in an env file means "unset", not ""
        frozen=True,
    )

    # --- environment -----------------------------------------------------------------
    app_env: AppEnv = "dev"
    app_name: str = "Invoicer"
    debug: bool = False
    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET_KEY),
        description="HMAC key for signed values (cursors, CSRF tokens). >= 32 chars outside dev.",
    )

    # --- HTTP server --------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-* headers are trusted (uvicorn). '*' refused in staging/prod.",
    )
    graceful_shutdown_timeout: float = Field(default=20.0, gt=0, le=300)
    shutdown_drain_seconds: float = Field(
        default=0.0,
        ge=0,
        le=120,
        description="After SIGTERM, keep serving (with /readyz at 503) this long before closing.",
    )

    # What the server reads before the app sees a request (app/server.py), per worker.
    max_request_header_bytes: int = Field(
        default=16_384, ge=1024, le=1_048_576, description="Request line and headers; larger: 431."
    )
    max_request_header_fields: int = Field(default=100, ge=10, le=10_000)
    request_header_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="From connection or first byte to complete headers; then 408."
    )
    keep_alive_timeout_seconds: int = Field(default=5, ge=1, le=3600)
    max_connections_per_worker: int = Field(
        default=1000, ge=1, le=1_000_000, description="Open connections; beyond: 503 and closed."
    )
    limit_concurrency: int | None = Field(
        default=None,
        ge=1,
        description="uvicorn's limit: past this many connections or running requests, 503.",
    )
    listen_backlog: int = Field(default=2048, ge=1, le=65_535)

    # --- API behaviour ------------------------------------------------------------------
    docs_enabled: bool | None = Field(
        default=None, description="Serve /docs, /redoc, /openapi.json. Default: on except in prod."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cors_allow_credentials: bool = False
    trusted_hosts: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    gzip_minimum_size: int = Field(default=1024, ge=0)
    max_request_body_bytes: int = Field(default=1_048_576, ge=1024)
    request_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    server_timing_enabled: bool = Field(
        default=False,
        description="Send each request's duration as Server-Timing (it shows callers timing differences).",
    )
    report_cache_ttl_seconds: int = Field(
        default=300,
        ge=1,
        le=24 * 3600,
        description="How long a computed report is served from the cache (writes invalidate it sooner).",
    )
    report_max_age_seconds: int = Field(
        default=30,
        ge=0,
        le=3600,
        description="`Cache-Control: private, max-age` of reports: how long a client may reuse one unasked.",
    )
    cache_memory_entries: int = Field(
        default=10_000,
        ge=100,
        le=1_000_000,
        description="Entries of the in-process cache in embedded mode (least recently used are dropped).",
    )
    export_batch_rows: int = Field(
        default=1000,
        ge=10,
        le=50_000,
        description="Rows an export fetches from its server-side cursor at a time.",
    )
    export_max_seconds: float = Field(
        default=600,
        gt=0,
        le=24 * 3600,
        description="The longest an export may stream; then it is cut off and its database connection "
        "released (a client that stops reading would otherwise hold one for as long as it likes).",
    )
    idempotency_key_ttl_seconds: int = Field(
        default=24 * 3600,
        ge=60,
        le=30 * 24 * 3600,
        description="How long an Idempotency-Key replays its first response; later it is a new key.",
    )

    # --- invoice PDFs (app/services/invoice_pdfs.py) --------------------------------------
    invoice_pdf_locale: str = Field(
        default="en_US",
        description="The CLDR locale amounts, quantities and dates are written in (en_US, de_DE, fr_CH...).",
    )
    invoice_pdf_cache_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=0,
        le=1024 * 1024 * 1024,
        description="Rendered PDFs kept in each process (least recently used out first); 0 keeps none.",
    )
    invoice_pdf_max_concurrent_renders: int = Field(
        default=2, ge=1, le=32, description="PDFs rendered at once per process, each in a worker thread."
    )

    # --- database -----------------------------------------------------------------------
    database_url: str = "sqlite+aiosqlite:///./var/invoicer.db"
    migration_database_url: str | None = None
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    db_pool_recycle_seconds: int = Field(default=1800, ge=-1)
    db_pool_pre_ping: bool = True
    db_pool_pre_ping_idle_seconds: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="Ping only connections that sat in the pool at least this long; 0 pings every checkout.",
    )
    db_statement_timeout_ms: int = Field(default=15_000, ge=0)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    sqlite_busy_timeout_ms: int = Field(default=5_000, ge=0)
    db_echo: bool = False

    # --- attachments and their storage ----------------------------------------------------
    storage_backend: Literal["local", "s3"] = Field(
        default="local",
        description="Where attachment files go: a local directory, or an S3-compatible store.",
    )
    storage_local_dir: str = Field(default="./var/attachments", description="The local backend's directory.")
    s3_bucket: str | None = Field(default=None, description="The S3 backend's bucket (must exist).")
    s3_endpoint_url: str | None = Field(
        default=None, pattern=r"^https?://", description="An S3-compatible endpoint; unset: AWS."
    )
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_prefix: str = Field(default="", max_length=200, pattern=r"^[A-Za-z0-9_./-]*$")
    attachment_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        le=5 * 1024**3,
        description="One attachment's largest size; larger: 413.",
    )
    attachment_org_quota_bytes: int = Field(
        default=1024**3, ge=1024, description="All of an organization's attachments together; beyond: 413."
    )

    # --- other services -----------------------------------------------------------------
    redis_url: SecretStr | None = None
    redis_key_prefix: str = Field(
        default="invoicer:",
        min_length=1,
        max_length=64,
        # No glob characters: the prefix is also a SCAN MATCH pattern for whoever cleans up.
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Starts every Redis key the app writes, so several deployments can share one database.",
    )
    # Connections per process; a request that finds them all busy waits up to the timeout for one
    # (then 503), instead of failing at once as redis-py's default pool does when it is full.
    redis_max_connections: int = Field(default=50, ge=1, le=10_000)
    redis_pool_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    broker_url: SecretStr | None = None
    health_check_timeout_seconds: float = Field(default=0.8, gt=0, le=5)
    readyz_details_public: bool = Field(
        default=False,
        description="Show /readyz's per-dependency checks to everyone, not only to the METRICS_TOKEN bearer.",
    )

    # --- background jobs (app/tasks) -----------------------------------------------------
    job_runner: Literal["in_process", "worker"] | None = Field(
        default=None,
        description=(
            "in_process: the API runs jobs itself (embedded mode); worker: `invoicer worker` "
            "processes on BROKER_URL run them. Default: worker when BROKER_URL is set."
        ),
    )
    broker_queue: str = Field(
        default="invoicer",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="RabbitMQ queue (and exchange) name; its dead letters go to <name>.dead_letter.",
    )
    worker_concurrency: int = Field(default=32, ge=1, le=1000, description="Jobs one worker runs at once.")
    worker_health_port: int | None = Field(
        default=None, ge=1, le=65535, description="`invoicer worker` serves /livez and /readyz on this port."
    )
    worker_shutdown_seconds: float = Field(
        default=20.0, ge=0, le=600, description="On SIGTERM, how long running jobs may take to finish."
    )
    job_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long a worker holds a job; longer than any attempt (webhook timeout included).",
    )
    job_sweep_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        le=300,
        description="How often due retries are woken and expired leases taken back.",
    )
    job_rewake_after_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="A due job whose wake-up is this old is woken again."
    )
    email_retry_schedule_seconds: list[float] = Field(
        default_factory=lambda: [10.0, 60.0, 300.0, 1800.0, 7200.0],
        min_length=1,
        max_length=20,
        description="Seconds between an email's attempts (JSON list); dead after the last.",
    )
    outbox_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        le=300,
        description="The outbox relay looks for unrelayed events this often, besides LISTEN/NOTIFY.",
    )
    outbox_batch_size: int = Field(default=100, ge=1, le=10_000)
    job_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Finished jobs (sent or dead) and periodic run records are purged after this many days.",
    )
    one_time_token_retention_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description="Expired or used one-time tokens (verification, reset) are purged this long after.",
    )

    # --- webhooks (app/tasks/webhooks.py, docs/webhooks.md) ----------------------------------
    webhook_require_https: bool | None = Field(
        default=None,
        description="Endpoint URLs must be https. Default: required outside dev and test.",
    )
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Admit loopback and private addresses as webhook targets (tests, the embedded "
        "mode on one machine). Link-local and cloud-metadata addresses stay refused.",
    )
    webhook_max_endpoints_per_org: int = Field(
        default=20, ge=1, le=10_000, description="Webhook endpoints one organization may have (409 beyond)."
    )
    webhook_secret_rotation_grace_seconds: float = Field(
        default=24 * 3600,
        ge=0,
        le=30 * 24 * 3600,
        description="After a secret rotation, deliveries are signed with the old secret too for this long.",
    )
    webhook_disable_after_seconds: float = Field(
        default=5 * 24 * 3600,
        gt=0,
        description="An endpoint whose deliveries failed for this long since its last success is disabled.",
    )
    webhook_retry_schedule_seconds: list[float] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        min_length=1,
        max_length=20,
        description="Seconds between a delivery's attempts (JSON list); dead after the last.",
    )
    webhook_timeout_seconds: float = Field(
        default=15.0, gt=0, le=60, description="A delivery attempt's whole budget: connect, send, read."
    )
    webhook_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    webhook_dns_timeout_seconds: float = Field(
        default=2.0, gt=0, le=30, description="Resolving an endpoint's host (registration and delivery)."
    )
    webhook_max_connections: int = Field(default=100, ge=1, le=10_000)
    webhook_max_keepalive_connections: int = Field(default=20, ge=0, le=10_000)
    webhook_max_response_bytes: int = Field(
        default=1024,
        ge=0,
        le=1_048_576,
        description="Read at most this much of a receiver's answer (the rest is never read).",
    )
    webhook_delivery_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Finished deliveries (and their attempts) are purged after this.",
    )

    # --- logging ------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] | None = Field(
        default=None, description="Default: json in staging/prod, console elsewhere."
    )

    # --- metrics ------------------------------------------------------------------------
    metrics_enabled: bool = Field(default=True, description="Serve Prometheus metrics at /metrics.")
    metrics_token: SecretStr | None = Field(
        default=None,
        description="If set, /metrics needs `Authorization: Bearer <token>` (or block it at the proxy).",
    )
    metrics_public: bool = Field(
        default=False,
        description="Staging/prod: serve /metrics without METRICS_TOKEN (the proxy keeps it private).",
    )

    # --- traces (OpenTelemetry) -----------------------------------------------------------
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="OTLP/HTTP collector base URL (spans go to <url>/v1/traces); unset: no tracing.",
    )
    otel_service_name: str = Field(default="invoicer", min_length=1, max_length=100)
    otel_traces_sample_ratio: float = Field(
        default=1.0, ge=0.0, le=1.0, description="Share of new traces kept; a caller's choice wins."
    )

    # --- authentication -----------------------------------------------------------------
    jwt_private_key: SecretStr | None = Field(
        default=None,
        description="PEM Ed25519 private key signing access tokens. Dev generates one under ./var/.",
    )
    jwt_previous_public_keys: list[str] = Field(
        default_factory=list,
        description="JSON list of PEM public keys still accepted (key rotation without logouts).",
    )
    jwt_issuer: str = "invoicer"
    jwt_audience: str = "invoicer-api"
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=60)
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    access_token_cache_size: int = Field(
        default=10_000,
        ge=0,
        le=1_000_000,
        description="Access tokens each process remembers as verified until they expire, so a "
        "client's next request skips the signature check (revocation is still checked every "
        "time); 0 verifies every request. About 1 KB each.",
    )
    refresh_token_idle_ttl_seconds: int = Field(default=7 * 86400, ge=300)
    refresh_token_absolute_ttl_seconds: int = Field(default=30 * 86400, ge=3600)
    email_verification_ttl_seconds: int = Field(default=2 * 86400, ge=300)
    password_reset_ttl_seconds: int = Field(default=3600, ge=300, le=86400)
    session_cookie_name: str = Field(default="invoicer_session", pattern=r"^[A-Za-z0-9_]+$")
    session_touch_interval_seconds: int = Field(
        default=60, ge=0, description="Write a session's last-used time at most this often."
    )
    max_sessions_per_user: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Live sessions one account may have; signing in beyond it ends the least recently used.",
    )
    max_organizations_per_user: int = Field(
        default=50, ge=1, le=10_000, description="Organizations one account may belong to (409 beyond)."
    )
    feature_defaults: dict[Feature, bool] = Field(
        default_factory=lambda: dict(DEFAULTS),
        description='Feature flags of organizations without an override, as JSON: {"audit_log": true}.',
    )
    invitation_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=3600, le=30 * 24 * 3600)
    max_pending_invitations_per_org: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Invitations waiting for an answer, per organization (409 beyond).",
    )
    max_api_keys_per_org: int = Field(
        default=50, ge=1, le=10_000, description="Live API keys one organization may have (409 beyond)."
    )

    # --- passwords: argon2id -----------------------------------------------------------------
    # Default m=64 MiB, t=3: the memory and passes of RFC 9106's low-memory profile (and of
    # pwdlib's recommended hasher), p=1 as OWASP. The bounds are OWASP's floor (19 MiB, t=2).
    password_hash_memory_kib: int = Field(default=65_536, ge=19_456, le=1_048_576)
    password_hash_time_cost: int = Field(default=3, ge=2, le=20)
    password_hash_parallelism: int = Field(default=1, ge=1, le=16)
    password_hash_concurrency: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Hashes computed at once per process (each holds m KiB). Default: CPUs / WORKERS.",
    )
    password_min_length: int = Field(default=12, ge=8, le=64)
    password_max_length: int = Field(default=256, ge=64, le=4096)

    # --- rate limits (limits notation: "10/minute", "5 per 15 minutes") ------------------
    rate_limit_login: str = "30/minute"
    rate_limit_login_failures_per_account: str = "10 per 15 minutes"
    rate_limit_login_failures_per_ip: str = "50 per 15 minutes"
    rate_limit_signup: str = "10/hour"
    rate_limit_password_forgot: str = "10/hour"
    rate_limit_verify: str = "30/hour"
    rate_limit_refresh: str = "60/minute"
    rate_limit_mail_per_recipient: str = Field(
        default="5 per hour",
        description="Unsolicited emails (verification, sign-up notice, password reset) to one address.",
    )
    rate_limit_api: str = Field(
        default="600/minute", description="Every /api/v1 route, per caller (a user, or an API key)."
    )
    rate_limit_api_org: str = Field(
        default="3000/minute", description="An organization's routes, per organization (all its callers)."
    )
    rate_limit_exports: str = Field(
        default="10/minute", description="Invoice exports (CSV, NDJSON), per caller in each organization."
    )
    rate_limit_hosted_invoice: str = Field(
        default="60/minute", description="The public hosted invoice pages (/i/...), per client IP."
    )
    rate_limit_api_routes: dict[str, str] = Field(
        default_factory=lambda: {
            "organizations-create_organization": "20/hour",
            "api-keys-create_api_key": "30/hour",
        },
        description="Per-route overrides of RATE_LIMIT_API, by operation id (JSON).",
    )
    rate_limit_ipv6_prefix_length: int = Field(
        default=64,
        ge=32,
        le=128,
        description="IPv6 clients are limited per network of this prefix length (a subscriber holds a /64).",
    )

    # --- email ----------------------------------------------------------------------------
    email_transport: Literal["file", "smtp"] = Field(
        default="file", description="file: write to MAIL_DIR and the log (dev); smtp: send."
    )
    mail_dir: str = "./var/mail"
    email_from: str = "Invoicer <no-reply@invoicer.localhost>"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    smtp_allow_plaintext: bool = Field(
        default=False,
        description="Staging/prod: allow SMTP without STARTTLS or TLS (a relay on a trusted network).",
    )
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    public_base_url: str = Field(
        default="",
        validate_default=True,
        description=(
            "Base of links in emails (verification, password reset). Default: the address the "
            "server listens on, http://HOST:PORT. Staging/prod: the public https:// URL."
        ),
    )

    # --- demo data ----------------------------------------------------------------------
    demo_password: SecretStr = SecretStr("invoicer-demo-password")

    _split_lists = field_validator("cors_origins", "trusted_hosts", mode="before")(_split_csv)

    @field_validator(
        "rate_limit_login",
        "rate_limit_login_failures_per_account",
        "rate_limit_login_failures_per_ip",
        "rate_limit_signup",
        "rate_limit_password_forgot",
        "rate_limit_verify",
        "rate_limit_refresh",
        "rate_limit_mail_per_recipient",
        "rate_limit_api",
        "rate_limit_api_org",
        "rate_limit_exports",
        "rate_limit_hosted_invoice",
    )
    @classmethod
    def _valid_rate_limit(cls, value: str) -> str:
        parse_rate_limit(value)  # raises ValueError on a malformed policy
        return value

    @field_validator("rate_limit_api_routes")
    @classmethod
    def _valid_route_limits(cls, value: dict[str, str]) -> dict[str, str]:
        for spec in value.values():
            parse_rate_limit(spec)
        return value

    @field_validator("invoice_pdf_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        try:
            Locale.parse(value)
        except (ValueError, UnknownLocaleError) as error:
            raise ValueError(f"{value!r} is not a CLDR locale babel knows (such as en_US)") from error
        return value

    @field_validator("public_base_url")
    @classmethod
    def _listening_address_by_default(cls, value: str, info: ValidationInfo) -> str:
        # HOST and PORT are validated before this field: absent here if they were invalid,
        # and then reported as such.
        if value or "host" not in info.data or "port" not in info.data:
            return value
        return listening_url(info.data["host"], info.data["port"])

    @field_validator("app_env", mode="before")
    @classmethod
    def _normalise_env(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    # --- derived values -----------------------------------------------------------------
    @property
    def is_production_like(self) -> bool:
        return self.app_env in ("staging", "prod")

    @property
    def effective_docs_enabled(self) -> bool:
        return self.docs_enabled if self.docs_enabled is not None else self.app_env != "prod"

    @property
    def effective_log_format(self) -> Literal["console", "json"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.is_production_like else "console"

    @property
    def effective_password_hash_concurrency(self) -> int:
        """The cores shared among the worker processes: N workers on N cores hash one at a time
        each, rather than N at once each (N x N x 64 MiB)."""
        if self.password_hash_concurrency is not None:
            return self.password_hash_concurrency
        return max(1, (os.cpu_count() or 1) // self.workers)

    @property
    def effective_migration_database_url(self) -> str:
        return self.migration_database_url or self.database_url

    @property
    def separate_api_role(self) -> str | None:
        """The API's own PostgreSQL user, when migrations run as another (the tables' owner)."""
        if self.migration_database_url is None or self.database_backend != "postgresql":
            return None
        api_user = make_url(self.database_url).username
        owner = make_url(self.migration_database_url).username
        return api_user if api_user and api_user != owner else None

    @property
    def effective_webhook_require_https(self) -> bool:
        if self.webhook_require_https is not None:
            return self.webhook_require_https
        return self.app_env not in ("dev", "test")

    @property
    def effective_job_runner(self) -> Literal["in_process", "worker"]:
        if self.job_runner is not None:
            return self.job_runner
        return "worker" if self.broker_url is not None else "in_process"

    @property
    def database_backend(self) -> Literal["postgresql", "sqlite"]:
        if self.database_url.startswith("sqlite"):
            return "sqlite"
        if self.database_url.startswith("postgresql"):
            return "postgresql"
        raise ValueError(f"unsupported database URL scheme: {self.database_url.split(':', 1)[0]}")

    def check_for_environment(self) -> list[str]:
        """Problems that make these settings unsafe for `app_env`; empty when all is well."""
        problems = self._problems_anywhere()
        if self.is_production_like:
            problems += self._production_secrets_and_stores() + self._production_exposure()
        elif self.workers > 1 and self.redis_url is None:
            # Staging/prod require Redis outright; elsewhere only several workers do.
            problems.append(
                f"WORKERS is {self.workers} but REDIS_URL is not set: sign-outs, rate limits "
                "and sign-in throttles would each be kept per worker process "
                "(set REDIS_URL, or serve one worker)"
            )
        return problems

    def _problems_anywhere(self) -> list[str]:
        problems: list[str] = []
        try:
            _ = self.database_backend
        except ValueError as exc:
            problems.append(f"DATABASE_URL: {exc} (use postgresql+asyncpg:// or sqlite+aiosqlite://)")
        if self.cors_allow_credentials and "*" in self.cors_origins:
            problems.append("CORS_ORIGINS contains '*' while CORS_ALLOW_CREDENTIALS is on")
        if self.smtp_starttls and self.smtp_use_tls:
            problems.append(
                "SMTP_STARTTLS and SMTP_USE_TLS are both on; choose one "
                "(STARTTLS, usually port 587, or implicit TLS, usually port 465)"
            )
        if self.storage_backend == "s3" and not self.s3_bucket:
            problems.append("STORAGE_BACKEND is s3 but S3_BUCKET is not set")
        if self.job_runner == "worker" and self.broker_url is None:
            problems.append("JOB_RUNNER is worker but BROKER_URL is not set")
        return problems

    def _production_secrets_and_stores(self) -> list[str]:
        problems: list[str] = []
        secret = self.secret_key.get_secret_value()
        if secret == DEV_SECRET_KEY:
            problems.append("SECRET_KEY is the development default")
        elif len(secret) < MIN_SECRET_LENGTH:
            problems.append(f"SECRET_KEY is shorter than {MIN_SECRET_LENGTH} characters")
        if self.database_url.startswith("sqlite"):
            problems.append("DATABASE_URL points at SQLite; staging/prod need PostgreSQL")
        elif self.database_backend == "postgresql" and self.separate_api_role is None:
            problems.append(
                "DATABASE_URL must connect as a role that does not own the tables: set "
                "MIGRATION_DATABASE_URL to the owner's URL and DATABASE_URL to the API's own user "
                "(row-level security then binds every query the API sends)"
            )
        if self.debug:
            problems.append("DEBUG is on")
        if self.jwt_private_key is None:
            problems.append("JWT_PRIVATE_KEY is not set (an Ed25519 private key in PEM)")
        if self.redis_url is None:
            # Replicas cannot be detected from inside one, so production requires Redis outright.
            problems.append(
                "REDIS_URL is not set: staging/prod keep sign-outs, rate limits and sign-in "
                "throttles in Redis, so that every worker and replica shares them"
            )
        return problems

    def _production_exposure(self) -> list[str]:
        problems: list[str] = []
        if "*" in self.trusted_hosts:
            problems.append("TRUSTED_HOSTS allows any host ('*'); list the public host names")
        if _trusts_any_address(self.forwarded_allow_ips):
            problems.append(
                "FORWARDED_ALLOW_IPS trusts any address: every client could set X-Forwarded-For "
                "and dodge per-IP limits; list the proxies' addresses"
            )
        if self.metrics_enabled and self.metrics_token is None and not self.metrics_public:
            problems.append(
                "METRICS_TOKEN is not set while /metrics is on: set it, METRICS_ENABLED=false, "
                "or METRICS_PUBLIC=true if the proxy keeps /metrics private"
            )
        if self.email_transport != "smtp":
            problems.append("EMAIL_TRANSPORT must be smtp (file is for development)")
        if self.webhook_allow_private_targets:
            problems.append(
                "WEBHOOK_ALLOW_PRIVATE_TARGETS is on: customers' webhook URLs could reach this "
                "network's private and loopback addresses (SSRF)"
            )
        if not self.effective_webhook_require_https:
            problems.append("WEBHOOK_REQUIRE_HTTPS is off: webhook payloads would travel unencrypted")
        if not (self.smtp_starttls or self.smtp_use_tls or self.smtp_allow_plaintext):
            problems.append(
                "SMTP without TLS: set SMTP_STARTTLS or SMTP_USE_TLS "
                "(or SMTP_ALLOW_PLAINTEXT=true for a relay on a trusted network)"
            )
        if not self.public_base_url.startswith("https://"):
            unset = "public_base_url" not in self.model_fields_set
            problems.append(
                "PUBLIC_BASE_URL must be an https:// URL"
                + (f" (unset, emailed links would point at {self.public_base_url})" if unset else "")
            )
        return problems


def listening_url(host: str, port: int) -> str:
    """A URL that reaches a server bound to `host`:`port` from this machine.

    A wildcard address is where the server listens, not where anyone can connect: 0.0.0.0
    takes every IPv4 address, loopback included, so links name 127.0.0.1. `::` takes every
    IPv6 address and, on most systems but not all (net.ipv6.bindv6only), IPv4 too; `localhost`
    names both loopbacks, and browsers and curl try each, so the link works either way.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        link_host = host  # a name: localhost, or the machine's own
    else:
        if address.is_unspecified:
            link_host = "127.0.0.1" if address.version == 4 else "localhost"
        else:
            link_host = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{link_host}" if port == 80 else f"http://{link_host}:{port}"


def _trusts_any_address(forwarded_allow_ips: str) -> bool:
    """'*', or a network such as 0.0.0.0/0 or ::/0 that contains every address."""
    for item in (part.strip() for part in forwarded_allow_ips.split(",")):
        if item == "*":
            return True
        if "/" in item:
            try:
                if ipaddress.ip_network(item, strict=False).prefixlen == 0:
                    return True
            except ValueError:
                continue
    return False
