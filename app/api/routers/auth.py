"""/api/v1/auth: sign-up, sign-in, token refresh and revocation, sessions, password reset."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.contract import problems, sets_headers
from app.api.dependencies.auth import (
    CurrentPrincipal,
    LoginThrottleDep,
    PasswordHasherDep,
    RevocationsDep,
    TokenCodecDep,
    cookie_names,
)
from app.api.dependencies.background import AfterResponseDep
from app.api.dependencies.core import DatabaseDep, SessionDep, SettingsDep
from app.api.dependencies.email import MailerDep, RecipientQuotaDep
from app.api.dependencies.idempotency import Idempotent, IdempotentRoute
from app.api.dependencies.pagination import OffsetParamsDep
from app.api.dependencies.rate_limit import RateLimit, client_address
from app.api.oauth import OAuthTokenRoute
from app.core.errors import (
    EmailNotVerifiedError,
    InvalidCredentialsError,
    InvalidOneTimeTokenError,
    InvalidRefreshTokenError,
    NotFoundError,
    RateLimitedError,
)
from app.schemas.auth import (
    EXAMPLE_EMAIL,
    EXAMPLE_PASSWORD,
    EXAMPLE_TOKEN,
    Accepted,
    BrowserSessionPublic,
    BrowserSessionRequest,
    ForgotPasswordRequest,
    RefreshRequest,
    ResetPasswordRequest,
    SessionPublic,
    SignupRequest,
    TokenResponse,
    VerifyEmailRequest,
)
from app.schemas.common import EmailAddress, OffsetPage
from app.services import accounts
from app.services import auth as auth_service
from app.services import sessions as sessions_service
from app.services.auth import ClientInfo, TokenPair

# Reachable without credentials: each route here is a deliberate exception.
public_router = APIRouter(prefix="/auth", tags=["auth"])
# The OAuth2 token endpoint, public too, with RFC 6749's error contract (app/api/oauth.py).
token_router = APIRouter(prefix="/auth", tags=["auth"], route_class=OAuthTokenRoute)
# Mounted behind the authentication dependency (see app/api/routers/__init__.py).
router = APIRouter(prefix="/auth", tags=["auth"], route_class=IdempotentRoute)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1
# Sign-in: the password check, and the throttle that counts the attempts.
SIGN_IN_PROBLEMS = (InvalidCredentialsError, EmailNotVerifiedError, RateLimitedError)
# Shared by setting and deleting the browser-session cookies: a browser only drops a cookie
# whose path and attributes match the ones it was set with.
COOKIE_ATTRIBUTES: dict[str, Any] = {"path": "/", "secure": True, "samesite": "lax"}


@dataclass(frozen=True, slots=True)
class PasswordGrantForm:
    username: str
    password: str


async def password_grant_form(
    # Normalised and validated like every other email field: a username that is not one plain
    # address is a 422 before any lookup, and the sign-in sees only the normalised spelling.
    username: Annotated[EmailAddress, Form(description="Your email address.", examples=[EXAMPLE_EMAIL])],
    password: Annotated[str, Form(min_length=1, max_length=4096, examples=[EXAMPLE_PASSWORD])],
    grant_type: Annotated[str, Form(pattern="^password$", examples=["password"])] = "password",
    scope: Annotated[str, Form(max_length=1000, description="Ignored: tokens carry no scopes.")] = "",
) -> PasswordGrantForm:
    """OAuth2 password grant fields (RFC 6749 §4.3.2), parsed on the event loop.

    FastAPI's `OAuth2PasswordRequestForm` is a plain class, so it would run in the thread pool.
    """
    return PasswordGrantForm(username=username, password=password)


def client_info(request: Request) -> ClientInfo:
    return ClientInfo.of(ip_address=client_address(request), user_agent=request.headers.get("user-agent"))


def token_response(tokens: TokenPair, response: Response) -> TokenResponse:
    response.headers.update(NO_STORE)
    return TokenResponse(
        access_token=tokens.access_token, expires_in=tokens.expires_in, refresh_token=tokens.refresh_token
    )


@public_router.post(
    "/signup",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Create an account and its organization",
    description=(
        "Always answers 202 with the same body, as soon as the password passes the policy. A new "
        "address receives a verification link; an address that already has an account receives "
        "a notice instead. The account is created after the response, so neither the answer "
        "nor its timing reveals which addresses are registered."
    ),
    dependencies=[Depends(RateLimit("signup"))],
)
async def signup(
    body: SignupRequest,
    after_response: AfterResponseDep,
    hasher: PasswordHasherDep,
    mailer: MailerDep,
    quota: RecipientQuotaDep,
    settings: SettingsDep,
) -> Accepted:
    accounts.check_signup(settings, email=str(body.email), password=body.password)

    async def create_account(session: AsyncSession) -> None:
        await accounts.signup(
            session=session,
            hasher=hasher,
            mailer=mailer,
            quota=quota,
            settings=settings,
            email=str(body.email),
            password=body.password,
            full_name=body.full_name,
            organization_name=body.organization_name,
        )

    after_response.run("signup", create_account)
    return Accepted(detail="Check your inbox to continue.")


@public_router.post(
    "/verify-email",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Confirm an email address with the emailed token",
    description="The token comes from the link in the sign-up email; it works once, until it expires.",
    dependencies=[Depends(RateLimit("verify"))],
    responses=problems(InvalidOneTimeTokenError),
)
async def verify_email(body: VerifyEmailRequest, session: SessionDep) -> None:
    await accounts.verify_email(session=session, token=body.token)


@token_router.post(
    "/token",
    summary="Sign in (OAuth2 password grant): email as username",
    description=(
        "Form-encoded (RFC 6749 §4.3), so Swagger UI's Authorize button and OAuth2 client "
        "libraries work. Errors follow RFC 6749 §5.2 inside the problem document: 400 with "
        "`error` `invalid_grant` (wrong password, unknown or disabled account, unverified "
        "address), `invalid_request` (a missing or malformed field) or `unsupported_grant_type`."
    ),
    dependencies=[Depends(RateLimit("login"))],
    responses={**problems(*SIGN_IN_PROBLEMS), **sets_headers(200, "Cache-Control", "Pragma")},
)
async def issue_token(
    form: Annotated[PasswordGrantForm, Depends(password_grant_form)],
    request: Request,
    response: Response,
    session: SessionDep,
    database: DatabaseDep,
    hasher: PasswordHasherDep,
    throttle: LoginThrottleDep,
    codec: TokenCodecDep,
    revocations: RevocationsDep,
    settings: SettingsDep,
) -> TokenResponse:
    tokens = await auth_service.login(
        session=session,
        database=database,
        hasher=hasher,
        throttle=throttle,
        codec=codec,
        revocations=revocations,
        settings=settings,
        email=form.username,
        password=form.password,
        client=client_info(request),
    )
    return token_response(tokens, response)


@public_router.post(
    "/refresh",
    summary="Exchange a refresh token for a new pair (the old one is spent)",
    description=(
        "Presenting a spent refresh token again ends the whole session (token family). A refresh "
        "token that does not work is 400 with `error` `invalid_grant` (RFC 6749 §6), never 401: "
        "a client that refreshes on 401 must not loop on this endpoint."
    ),
    dependencies=[Depends(RateLimit("refresh"))],
    responses={**problems(InvalidRefreshTokenError), **sets_headers(200, "Cache-Control", "Pragma")},
)
async def refresh(
    body: RefreshRequest,
    response: Response,
    session: SessionDep,
    codec: TokenCodecDep,
    revocations: RevocationsDep,
    settings: SettingsDep,
) -> TokenResponse:
    tokens = await auth_service.refresh(
        session=session,
        codec=codec,
        revocations=revocations,
        settings=settings,
        refresh_token=body.refresh_token,
    )
    return token_response(tokens, response)


@public_router.post(
    "/revoke",
    status_code=status.HTTP_200_OK,
    summary="Revoke a refresh or access token (RFC 7009)",
    description="Ends the session behind the token. Unknown or already revoked tokens also answer 200.",
    dependencies=[Depends(RateLimit("refresh"))],
    response_class=Response,
    responses={200: {"description": "Revoked (or nothing to revoke)."}, **sets_headers(200, "Cache-Control")},
)
async def revoke_token(
    token: Annotated[str, Form(min_length=1, max_length=4096, examples=[EXAMPLE_TOKEN])],
    response: Response,
    session: SessionDep,
    codec: TokenCodecDep,
    revocations: RevocationsDep,
    settings: SettingsDep,
    token_type_hint: Annotated[str | None, Form(max_length=40, examples=["refresh_token"])] = None,
) -> None:
    await sessions_service.revoke_token(
        session=session, codec=codec, revocations=revocations, settings=settings, token=token
    )
    # On the injected response, not a new one: that is where the RateLimit fields are.
    response.headers.update(NO_STORE)


@public_router.post(
    "/password/forgot",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Email a password-reset link",
    description=(
        "Always 202, at once: whether the address has an account is not revealed, by the answer "
        "or by its timing (the lookup and the email happen after the response)."
    ),
    dependencies=[Depends(RateLimit("password_forgot"))],
)
async def forgot_password(
    body: ForgotPasswordRequest,
    after_response: AfterResponseDep,
    mailer: MailerDep,
    quota: RecipientQuotaDep,
    settings: SettingsDep,
) -> Accepted:
    async def email_a_reset_link(session: AsyncSession) -> None:
        await accounts.request_password_reset(
            session=session, mailer=mailer, quota=quota, settings=settings, email=str(body.email)
        )

    after_response.run("password_reset_request", email_a_reset_link)
    return Accepted(detail="If an account exists for this address, a reset link is on its way.")


@public_router.post(
    "/password/reset",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set a new password with the emailed token; every session ends",
    description="The token comes from the reset email; it works once. The new password must meet the policy.",
    dependencies=[Depends(RateLimit("verify"))],
    responses=problems(InvalidOneTimeTokenError),
)
async def reset_password(
    body: ResetPasswordRequest,
    session: SessionDep,
    database: DatabaseDep,
    hasher: PasswordHasherDep,
    revocations: RevocationsDep,
    throttle: LoginThrottleDep,
    mailer: MailerDep,
    settings: SettingsDep,
) -> None:
    await accounts.reset_password(
        session=session,
        database=database,
        hasher=hasher,
        revocations=revocations,
        throttle=throttle,
        mailer=mailer,
        settings=settings,
        token=body.token,
        new_password=body.new_password,
    )


@public_router.post(
    "/session",
    status_code=status.HTTP_201_CREATED,
    summary="Sign in a browser: an HttpOnly session cookie plus a CSRF token",
    description=(
        "Sets the session cookie (HttpOnly, Secure, SameSite=Lax; `__Host-` prefixed over https) "
        "and a readable CSRF cookie. Send the CSRF token back in `X-CSRF-Token` on every "
        "POST/PUT/PATCH/DELETE made with the cookie."
    ),
    dependencies=[Depends(RateLimit("login"))],
    responses={**problems(*SIGN_IN_PROBLEMS), **sets_headers(201, "Set-Cookie", "Cache-Control")},
)
async def start_browser_session(
    body: BrowserSessionRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    database: DatabaseDep,
    hasher: PasswordHasherDep,
    throttle: LoginThrottleDep,
    revocations: RevocationsDep,
    settings: SettingsDep,
) -> BrowserSessionPublic:
    started = await auth_service.start_browser_session(
        session=session,
        database=database,
        hasher=hasher,
        throttle=throttle,
        revocations=revocations,
        settings=settings,
        email=str(body.email),
        password=body.password,
        client=client_info(request),
    )
    session_cookie, csrf_cookie = cookie_names(request, settings)
    lifetime = {"max_age": settings.refresh_token_absolute_ttl_seconds, **COOKIE_ATTRIBUTES}
    response.set_cookie(session_cookie, started.cookie_token, httponly=True, **lifetime)
    # Readable by the page's script, which sends it back as X-CSRF-Token.
    response.set_cookie(csrf_cookie, started.csrf_token, httponly=False, **lifetime)
    response.headers.update(NO_STORE)
    return BrowserSessionPublic(
        session_id=started.session_id, csrf_token=started.csrf_token, expires_at=started.expires_at
    )


@router.delete(
    "/session",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out this browser session and clear its cookies",
    description="Ends the session behind the cookie (or the bearer token) and expires both cookies.",
    responses=sets_headers(204, "Set-Cookie"),
)
async def end_browser_session(
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    session: SessionDep,
    revocations: RevocationsDep,
    settings: SettingsDep,
) -> None:
    await sessions_service.logout(
        session=session, revocations=revocations, settings=settings, principal=principal
    )
    for name in cookie_names(request, settings):
        response.delete_cookie(name, **COOKIE_ATTRIBUTES)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out this session",
    description="Ends the session of the credentials used: its refresh token and access tokens stop working.",
)
async def logout(
    principal: CurrentPrincipal,
    session: SessionDep,
    revocations: RevocationsDep,
    settings: SettingsDep,
    _idempotent: Idempotent,
) -> None:
    await sessions_service.logout(
        session=session, revocations=revocations, settings=settings, principal=principal
    )


@router.post(
    "/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out every session",
    description="Ends every session of the account, this one included, on every device.",
)
async def logout_all(
    principal: CurrentPrincipal,
    session: SessionDep,
    revocations: RevocationsDep,
    settings: SettingsDep,
    _idempotent: Idempotent,
) -> None:
    await sessions_service.logout_everywhere(
        session=session, revocations=revocations, settings=settings, principal=principal
    )


@router.get(
    "/sessions",
    summary="Your signed-in sessions (devices)",
    description="Live sessions, newest first, paginated; `current` marks the one of the credentials used.",
)
async def list_sessions(
    principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep, page: OffsetParamsDep
) -> OffsetPage[SessionPublic]:
    items, total = await sessions_service.list_sessions(
        session=session, settings=settings, user_id=principal.user_id, limit=page.limit, offset=page.offset
    )
    return OffsetPage[SessionPublic](
        items=[
            SessionPublic(
                id=item.id,
                kind="browser" if item.kind == "browser" else "token",
                created_at=item.created_at,
                last_used_at=item.last_used_at,
                expires_at=item.expires_at,
                user_agent=item.user_agent,
                ip_address=item.ip_address,
                current=item.id == principal.session_id,
            )
            for item in items
        ],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out one of your sessions",
    description="Another device's session, or this one. Someone else's session is 404, like an unknown one.",
    responses=problems(NotFoundError),
)
async def end_session(
    session_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    revocations: RevocationsDep,
    settings: SettingsDep,
) -> None:
    await sessions_service.end_session(
        session=session,
        revocations=revocations,
        settings=settings,
        user_id=principal.user_id,
        session_id=session_id,
    )
