"""Build the process-wide identity components once, in the lifespan, onto `app.state`."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from redis.asyncio import Redis

from app.clients.email import create_email_sender
from app.core.config import Settings
from app.core.rate_limit import RateLimitPolicy, create_rate_limiter
from app.core.security.api_keys import api_key_hasher
from app.core.security.cursors import CursorCodec
from app.core.security.jwt import AccessTokenCodec
from app.core.security.keys import signing_keys
from app.core.security.passwords import PasswordHasher
from app.core.security.revocation import MemoryRevocationStore, RedisRevocationStore, RevocationStore
from app.services.emails import RecipientQuota
from app.services.login_throttle import LoginThrottle


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
        # Per-route overrides of "api", named after the operation.
        **{f"api:{operation}": spec for operation, spec in settings.rate_limit_api_routes.items()},
    }
    return {name: RateLimitPolicy.parse(name, spec) for name, spec in specs.items()}


def install_identity(app: FastAPI, *, settings: Settings, redis: Redis | None) -> None:
    private_key, previous_keys = signing_keys(settings)
    app.state.token_codec = AccessTokenCodec(
        signing_key=private_key,
        previous_keys=previous_keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        leeway_seconds=settings.jwt_leeway_seconds,
    )
    app.state.password_hasher = PasswordHasher.from_settings(settings)
    app.state.api_key_hasher = api_key_hasher(settings.secret_key.get_secret_value())
    app.state.cursor_codec = CursorCodec(settings.secret_key.get_secret_value())
    prefix = settings.redis_key_prefix
    revocations: RevocationStore = (
        RedisRevocationStore(redis, key_prefix=prefix) if redis else MemoryRevocationStore()
    )
    app.state.revocations = revocations
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    limiter = create_rate_limiter(redis, redis_url, key_prefix=prefix)
    policies = rate_limit_policies(settings)
    app.state.rate_limiter = limiter
    app.state.rate_limit_policies = policies
    app.state.login_throttle = LoginThrottle(
        limiter=limiter,
        per_account=policies["login_failures_account"],
        per_ip=policies["login_failures_ip"],
        ipv6_prefix_length=settings.rate_limit_ipv6_prefix_length,
    )
    app.state.recipient_quota = RecipientQuota(limiter=limiter, policy=policies["mail_per_recipient"])
    app.state.email_sender = create_email_sender(settings)
