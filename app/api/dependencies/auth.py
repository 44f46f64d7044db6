"""The current principal: a bearer access token, or a browser-session cookie with CSRF."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import OAuth2PasswordBearer

from app.api.contract import Declares, Operation, declare
from app.api.dependencies.core import DatabaseDep, SessionDep, SettingsDep
from app.core.config import Settings
from app.core.errors import (
    CsrfError,
    InvalidAccessTokenError,
    NotAuthenticatedError,
    PermissionDeniedError,
)
from app.core.security.csrf import csrf_token_valid
from app.core.security.jwt import AccessTokenCodec
from app.core.security.passwords import PasswordHasher
from app.core.security.principal import Principal
from app.core.security.revocation import RevocationStore
from app.services import platform_admin, principals
from app.services.login_throttle import LoginThrottle

TOKEN_URL = "/api/v1/auth/token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description="Sign in with email (as username) and password to get a bearer access token.",
)


async def get_password_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.password_hasher
    return hasher


async def get_token_codec(request: Request) -> AccessTokenCodec:
    codec: AccessTokenCodec = request.app.state.token_codec
    return codec


async def get_revocations(request: Request) -> RevocationStore:
    store: RevocationStore = request.app.state.revocations
    return store


async def get_login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]
TokenCodecDep = Annotated[AccessTokenCodec, Depends(get_token_codec)]
RevocationsDep = Annotated[RevocationStore, Depends(get_revocations)]
LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]


def cookie_names(request: Request, settings: Settings) -> tuple[str, str]:
    """(session cookie, CSRF cookie); `__Host-` prefixed over https (host-only, Secure, Path=/)."""
    prefix = "__Host-" if request.url.scheme == "https" else ""
    return f"{prefix}{settings.session_cookie_name}", f"{prefix}{settings.session_cookie_name}_csrf"


async def get_current_principal(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    codec: TokenCodecDep,
    revocations: RevocationsDep,
    bearer_token: Annotated[str | None, Security(oauth2_scheme)],
) -> Principal:
    if bearer_token:
        return await principals.principal_from_access_token(
            codec=codec, revocations=revocations, token=bearer_token
        )
    session_cookie, csrf_cookie = cookie_names(request, settings)
    cookie_token = request.cookies.get(session_cookie)
    if not cookie_token:
        raise NotAuthenticatedError
    principal = await principals.principal_from_cookie(
        database=database, settings=settings, cookie_token=cookie_token
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
        problems=(NotAuthenticatedError, InvalidAccessTokenError, *((CsrfError,) if unsafe else ())),
        # Every response to a request with credentials is no-store (security_headers.py).
        success_headers=("Cache-Control",),
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


declare(get_current_principal, _principal_contract)
declare(get_platform_admin, Declares(problems=(PermissionDeniedError,)))
