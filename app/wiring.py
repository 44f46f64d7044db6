"""The process-wide services, built once in the lifespan into one typed container.

`AppServices` is what a request may use besides its own session: the database, Redis, the
token and key codecs, the rate limiter and its policies, mail, the invoice PDF renderer, the
attachments' object store, the job queue. It lives on
`app.state.services` and reaches code as one dependency (`ServicesDep`,
app/api/dependencies/core.py), not as a bag of separate `app.state` attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.email import EmailSender, create_email_sender
from app.clients.storage import Storage, create_storage
from app.core.cache import VersionedCache, create_cache
from app.core.config import Settings
from app.core.rate_limit import RateLimiter, RateLimitPolicy, create_rate_limiter
from app.core.security.api_keys import ApiKeyHasher, api_key_hasher
from app.core.security.cursors import CursorCodec
from app.core.security.idempotency import IdempotencyKeyring
from app.core.security.invoice_links import LinkTokenHasher, link_token_hasher
from app.core.security.jwt import AccessTokenCodec
from app.core.security.keys import signing_keys
from app.core.security.passwords import PasswordHasher
from app.core.security.revocation import MemoryRevocationStore, RedisRevocationStore, RevocationStore
from app.core.security.sealing import PayloadSealer
from app.db.session import Database
from app.services.emails import RecipientQuota
from app.services.health import HealthService
from app.services.invoice_pdfs import InvoicePdfs
from app.services.login_throttle import LoginThrottle
from app.services.reports import figures_changed
from app.tasks.broker import create_broker
from app.tasks.emails import DurableMailer
from app.tasks.queue import JobQueue


def rate_limit_policies(settings: Settings) -> dict[str, RateLimitPolicy]:
    specs = {
        "login": settings.rate_limit_login,
        "login_failures_account": settings.rate_limit_login_failures_per_account,
        "login_failures_ip": settings.rate_limit_login_failures_per_ip,
        "signup": settings.rate_limit_signup,
        "password_forgot": settings.rate_limit_password_forgot,
        "verify": settings.rate_limit_verify,
        "refresh": settings.rate_limit_refresh,
        "mail_per_recipient": settings.rate_limit_mail_per_recipient,
        "api": settings.rate_limit_api,
        "api_org": settings.rate_limit_api_org,
        "exports": settings.rate_limit_exports,
        "hosted_invoice": settings.rate_limit_hosted_invoice,
        # Per-route overrides of "api", named after the operation.
        **{f"api:{operation}": spec for operation, spec in settings.rate_limit_api_routes.items()},
    }
    return {name: RateLimitPolicy.parse(name, spec) for name, spec in specs.items()}


@dataclass(slots=True)
class AppServices:
    """Everything process-wide a request may use; one per app instance (each test has its own).

    Mutable only so that a test can put an instrumented collaborator in place (a counting
    password hasher); the app itself never reassigns a field.
    """

    settings: Settings
    database: Database
    redis: Redis | None
    health: HealthService
    token_codec: AccessTokenCodec
    password_hasher: PasswordHasher
    api_key_hasher: ApiKeyHasher
    invoice_link_hasher: LinkTokenHasher
    cursor_codec: CursorCodec
    idempotency_keyring: IdempotencyKeyring
    revocations: RevocationStore
    rate_limiter: RateLimiter
    rate_limit_policies: dict[str, RateLimitPolicy]
    login_throttle: LoginThrottle
    recipient_quota: RecipientQuota
    email_sender: EmailSender
    invoice_pdfs: InvoicePdfs
    report_cache: VersionedCache
    storage: Storage
    payload_sealer: PayloadSealer
    # Wake-ups for durable work (app/tasks); the broker is started and stopped by whoever
    # runs this process (the API's lifespan, `invoicer worker`).
    jobs: JobQueue
    mailer: DurableMailer


def build_services(*, settings: Settings, database: Database, redis: Redis | None) -> AppServices:
    private_key, previous_keys = signing_keys(settings)
    token_codec = AccessTokenCodec(
        signing_key=private_key,
        previous_keys=previous_keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        leeway_seconds=settings.jwt_leeway_seconds,
        cache_size=settings.access_token_cache_size,
    )
    prefix = settings.redis_key_prefix
    revocations: RevocationStore = (
        RedisRevocationStore(redis, key_prefix=prefix) if redis else MemoryRevocationStore()
    )
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    limiter = create_rate_limiter(redis, redis_url, key_prefix=prefix)
    policies = rate_limit_policies(settings)
    report_cache = VersionedCache(
        create_cache(redis_url, memory_entries=settings.cache_memory_entries),
        key_prefix=prefix,
        ttl_seconds=settings.report_cache_ttl_seconds,
    )

    async def invalidate_reports(session: AsyncSession) -> None:
        # The one place figures are invalidated: after any commit that changed them.
        changed = figures_changed(session)
        if changed:
            await report_cache.bump(changed)

    database.after_commit(invalidate_reports)
    secret_key = settings.secret_key.get_secret_value()
    jobs = JobQueue(create_broker(settings))
    payload_sealer = PayloadSealer(secret_key)
    return AppServices(
        settings=settings,
        database=database,
        redis=redis,
        health=HealthService(
            database=database,
            redis=redis,
            broker_url=settings.broker_url.get_secret_value() if settings.broker_url else None,
            timeout_seconds=settings.health_check_timeout_seconds,
        ),
        token_codec=token_codec,
        password_hasher=PasswordHasher.from_settings(settings),
        api_key_hasher=api_key_hasher(secret_key),
        invoice_link_hasher=link_token_hasher(secret_key),
        cursor_codec=CursorCodec(secret_key),
        idempotency_keyring=IdempotencyKeyring(secret_key),
        revocations=revocations,
        rate_limiter=limiter,
        rate_limit_policies=policies,
        login_throttle=LoginThrottle(
            limiter=limiter,
            per_account=policies["login_failures_account"],
            per_ip=policies["login_failures_ip"],
            ipv6_prefix_length=settings.rate_limit_ipv6_prefix_length,
        ),
        recipient_quota=RecipientQuota(limiter=limiter, policy=policies["mail_per_recipient"]),
        email_sender=create_email_sender(settings),
        invoice_pdfs=InvoicePdfs.from_settings(settings),
        report_cache=report_cache,
        storage=create_storage(settings),
        payload_sealer=payload_sealer,
        jobs=jobs,
        mailer=DurableMailer(queue=jobs, sealer=payload_sealer, settings=settings),
    )
