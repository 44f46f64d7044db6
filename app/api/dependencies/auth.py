"""The current principal: a bearer access token, or a browser-session cookie with CSRF."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request, Response, Security
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.contract import Declares, Operation, declare
from app.api.dependencies.background import AfterResponseDep
from app.api.dependencies.core import ServicesDep, SessionDep, services_of
from app.api.dependencies.rate_limit import limit_caller
from app.core.config import Settings
from app.core.errors import (
    ApiKeyNotAllowedError,
    CsrfError,
    InvalidAccessTokenError,
    NotAuthenticatedError,
    PermissionDeniedError,
    RateLimitedError,
)
from app.core.security.api_keys import ApiKeyHasher, looks_like_api_key
from app.core.security.csrf import csrf_token_valid
from app.core.security.jwt import AccessTokenCodec
from app.core.security.passwords import PasswordHasher
from app.core.security.principal import ApiKeyPrincipal, Caller, Principal
from app.core.security.revocation import RevocationStore
from app.db.session.tenancy import bind_organization
from app.models.base import utcnow
from app.services import api_keys, platform_admin, principals
from app.services.login_throttle import LoginThrottle
from app.wiring import AppServices

TOKEN_URL = "/api/v1/auth/token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description="Sign in with email (as username) and password to get a bearer access token.",
)


async def get_password_hasher(request: Request) -> PasswordHasher:
    return services_of(request).password_hasher


async def get_token_codec(request: Request) -> AccessTokenCodec:
    return services_of(request).token_codec


async def get_revocations(request: Request) -> RevocationStore:
    return services_of(request).revocations


async def get_login_throttle(request: Request) -> LoginThrottle:
    return services_of(request).login_throttle


PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]
TokenCodecDep = Annotated[AccessTokenCodec, Depends(get_token_codec)]
RevocationsDep = Annotated[RevocationStore, Depends(get_revocations)]
LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]


def cookie_names(request: Request, settings: Settings) -> tuple[str, str]:
    """(session cookie, CSRF cookie); `__Host-` prefixed over https (host-only, Secure, Path=/)."""
    prefix = "__Host-" if request.url.scheme == "https" else ""
    return f"{prefix}{settings.session_cookie_name}", f"{prefix}{settings.session_cookie_name}_csrf"


async def get_api_key_hasher(request: Request) -> ApiKeyHasher:
    return services_of(request).api_key_hasher


ApiKeyHasherDep = Annotated[ApiKeyHasher, Depends(get_api_key_hasher)]


async def get_current_caller(
    request: Request,
    response: Response,
    services: ServicesDep,
    session: SessionDep,
    after_response: AfterResponseDep,
    bearer_token: Annotated[str | None, Security(oauth2_scheme)],
) -> Caller:
    """A signed-in user (bearer access token or browser session), or an API key (`ik_...`)."""
    if bearer_token and looks_like_api_key(bearer_token):
        key = await api_keys.principal_from_api_key(
            session=session, hasher=services.api_key_hasher, secret=bearer_token
        )
        now = utcnow()
        if api_keys.needs_touch(key, now):
            after_response.run("api_key_last_used", functools.partial(_mark_used, key=key, now=now))
        caller: Caller = key
    else:
        caller = await _current_user(request, services, bearer_token)
    await limit_caller(request, response, caller)
    return caller


async def _mark_used(session: AsyncSession, *, key: ApiKeyPrincipal, now: datetime) -> None:
    await bind_organization(session, key.org_id)
    await api_keys.touch(session=session, api_key_id=key.api_key_id, now=now)


async def _current_user(request: Request, services: AppServices, bearer_token: str | None) -> Principal:
    settings = services.settings
    if bearer_token:
        return await principals.principal_from_access_token(
            codec=services.token_codec, revocations=services.revocations, token=bearer_token
        )
    session_cookie, csrf_cookie = cookie_names(request, settings)
    cookie_token = request.cookies.get(session_cookie)
    if not cookie_token:
        raise NotAuthenticatedError
    principal = await principals.principal_from_cookie(
        database=services.database, settings=settings, cookie_token=cookie_token
    )
    if principal is None:
        raise InvalidAccessTokenError("The browser session is invalid, expired or signed out.")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None or sent != request.cookies.get(csrf_cookie):
            raise CsrfError
        if not csrf_token_valid(settings.secret_key.get_secret_value(), principal.session_id, sent):
            raise CsrfError
    return principal


CurrentCaller = Annotated[Caller, Depends(get_current_caller)]


async def get_current_principal(caller: CurrentCaller) -> Principal:
    """A signed-in user: the routes about one's own account refuse API keys (403)."""
    if isinstance(caller, ApiKeyPrincipal):
        raise ApiKeyNotAllowedError(
            "API keys act only inside their organization, under /api/v1/orgs/{org_id}/."
        )
    return caller


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


async def get_platform_admin(principal: CurrentPrincipal, session: SessionDep) -> Principal:
    """The principal, if the user is a platform administrator; 403 otherwise."""
    await platform_admin.ensure_platform_admin(session=session, user_id=principal.user_id)
    return principal


PlatformAdmin = Annotated[Principal, Depends(get_platform_admin)]


# --- what these add to the OpenAPI document (app/api/contract.py) ----------------------------

SESSION_COOKIE_SCHEME = "BrowserSession"
CSRF_HEADER_SCHEME = "CsrfToken"


def _principal_contract(operation: Operation) -> Declares:
    """A bearer token, or the browser session (with its CSRF header on unsafe methods)."""
    unsafe = operation.method not in SAFE_METHODS
    browser: dict[str, list[str]] = {SESSION_COOKIE_SCHEME: []}
    if unsafe:
        browser[CSRF_HEADER_SCHEME] = []
    return Declares(
        problems=(
            NotAuthenticatedError,
            InvalidAccessTokenError,
            *((CsrfError,) if unsafe else ()),
            RateLimitedError,
        ),
        # Every response to a request with credentials is no-store (security_headers.py), and
        # every authenticated route is rate-limited per caller.
        success_headers=("Cache-Control", "RateLimit", "RateLimit-Policy"),
        security=({oauth2_scheme.scheme_name: []}, browser),
        security_schemes={
            SESSION_COOKIE_SCHEME: {
                "type": "apiKey",
                "in": "cookie",
                "name": operation.settings.session_cookie_name,
                "description": "The browser session, set by `POST /api/v1/auth/session` (HttpOnly; "
                "named with the `__Host-` prefix over https).",
            },
            CSRF_HEADER_SCHEME: {
                "type": "apiKey",
                "in": "header",
                "name": CSRF_HEADER,
                "description": "With the session cookie, on every POST/PUT/PATCH/DELETE: the "
                "`csrf_token` from sign-in (also in the readable `<cookie name>_csrf` cookie).",
            },
        },
    )


declare(get_current_caller, _principal_contract)
declare(get_current_principal, Declares(problems=(ApiKeyNotAllowedError,)))
declare(get_platform_admin, Declares(problems=(PermissionDeniedError,)))
