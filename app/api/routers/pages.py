"""The pages emailed links open: confirm an address, choose a new password, ask for a reset link.

Plain HTML forms, no JavaScript. Opening a link (GET) never spends its token: mail scanners
and link previews fetch links before the person does. GET shows a form holding the token;
submitting it (POST, form-encoded) spends the token through the same services as the JSON API
(`accounts.verify_email`, `accounts.reset_password`, `accounts.request_password_reset`), so
the rules live in one place; this module only turns their outcome into a page.

No CSRF token: these forms act on no session or cookie. What they do needs the emailed token
(or, to ask for a reset link, only an address), so a form forged on another site can do
nothing its author could not do with a direct request. The pages cannot be framed
(frame-ancestors 'none'), send no Referer, and are never cached.

Public, on purpose, and hidden from the OpenAPI document: they are pages for people, not API
operations (tests/api/test_route_protection.py lists them with the other hidden routes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import HTMLResponse, Response

from app.api.dependencies.auth import LoginThrottleDep, PasswordHasherDep, RevocationsDep
from app.api.dependencies.background import AfterResponseDep
from app.api.dependencies.core import DatabaseDep, SessionDep, SettingsDep
from app.api.dependencies.email import MailerDep, RecipientQuotaDep
from app.api.dependencies.rate_limit import RATE_LIMIT_HEADERS_STATE, RateLimit
from app.api.html import Markup, join, page, render
from app.core.config import Settings
from app.core.errors import InvalidInputError, InvalidOneTimeTokenError, RateLimitedError
from app.schemas.auth import ForgotPasswordRequest, OpaqueToken
from app.services import accounts

VERIFY_EMAIL_PATH = "/verify-email"
RESET_PASSWORD_PATH = "/reset-password"
FORGOT_PASSWORD_PATH = "/forgot-password"

# The JSON API's bounds on a token, applied before any lookup.
_TOKEN = TypeAdapter(Annotated[str, OpaqueToken])
_NOTHING = Markup()


class RefusalPageError(Exception):
    """A refusal, shown as a page.

    Raised, never returned, as every error is: the request's transaction (`SessionDep`) rolls
    back, and no work the request queued (an email) runs after it. `install_pages` registers
    the handler that sends the page.
    """

    def __init__(self, page: HTMLResponse) -> None:
        super().__init__(page.status_code)
        self.page = page


def _with_rate_limit_fields(request: Request, response: Response) -> Response:
    """As on the JSON endpoints: a limited route's answers carry its RateLimit fields."""
    for name, value in (getattr(request.state, RATE_LIMIT_HEADERS_STATE, None) or {}).items():
        response.headers.setdefault(name, value)
    return response


async def _send_refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RefusalPageError)
    return _with_rate_limit_fields(request, exc.page)


class PageRoute(APIRoute):
    """Answers in HTML, refusals included: a person reads them, in a browser.

    The two refusals a page meets before its own code runs, a rate limit and a form that could
    not be parsed, become pages here rather than problem+json. Anything else that goes wrong
    is the API's problem document, as elsewhere.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            settings: Settings = request.app.state.settings
            try:
                return _with_rate_limit_fields(request, await handler(request))
            except RateLimitedError as error:
                refusal = message_page(
                    settings, error.title, error.detail, status_code=error.status, headers=error.headers
                )
                raise RefusalPageError(refusal) from error
            except RequestValidationError as error:
                refusal = message_page(
                    settings,
                    "The form could not be read",
                    "Go back, and send the form again.",
                    status_code=422,
                )
                raise RefusalPageError(refusal) from error

        return page_handler


router = APIRouter(include_in_schema=False, route_class=PageRoute)


def install_pages(app: FastAPI, *more: APIRouter) -> None:
    """This module's pages, and `more` built on its helpers (app/api/routers/invitation_pages.py)."""
    app.include_router(router)
    for pages in more:
        app.include_router(pages)
    app.add_exception_handler(RefusalPageError, _send_refusal)


def message_page(
    settings: Settings,
    title: str,
    message: str,
    *,
    status_code: int = 200,
    more: Markup = _NOTHING,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    content = join(render("<p>$message</p>", message=message), more)
    return page(
        app_name=settings.app_name, title=title, content=content, status_code=status_code, headers=headers
    )


def error_line(message: str) -> Markup:
    return render('<p class="error" role="alert">$message</p>', message=message)


def password_refusal(error: InvalidInputError) -> Markup:
    """Why the password policy refused a new password, as the form's problem line."""
    reasons = [str(issue["message"]) for issue in error.extensions.get("errors", [])] or [error.detail]
    return error_line(f"Choose another password. This one {'; '.join(reasons)}.")


def app_path(request: Request, path: str) -> str:
    """A path of this app as the browser sees it (behind a proxy that adds a prefix too)."""
    return f"{request.scope.get('root_path', '')}{path}"


def duration_text(seconds: int) -> str:
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} hours"
    return f"{math.ceil(seconds / 60)} minutes"


def valid_token(token: str) -> str:
    try:
        return _TOKEN.validate_python(token)
    except ValidationError:
        raise InvalidOneTimeTokenError from None


def incomplete_link(settings: Settings) -> HTMLResponse:
    return message_page(
        settings,
        "This link is incomplete",
        "Open the link from the email again, or copy the whole address into your browser.",
        status_code=400,
    )


# --- confirm an email address ---------------------------------------------------------------

_VERIFY_FORM = """<p>Confirm that this address is yours to finish setting up your account.</p>
<form method="post" action="$action">
<input type="hidden" name="token" value="$token">
<button type="submit">Confirm my email address</button>
</form>"""


@router.get(VERIFY_EMAIL_PATH)
async def verify_email_page(request: Request, settings: SettingsDep, token: str = "") -> HTMLResponse:
    if not token:
        raise RefusalPageError(incomplete_link(settings))
    form = render(_VERIFY_FORM, action=app_path(request, VERIFY_EMAIL_PATH), token=token)
    return page(app_name=settings.app_name, title="Confirm your email address", content=form)


@router.post(VERIFY_EMAIL_PATH, dependencies=[Depends(RateLimit("verify"))])
async def verify_email(
    request: Request, session: SessionDep, settings: SettingsDep, token: Annotated[str, Form()] = ""
) -> HTMLResponse:
    try:
        await accounts.verify_email(session=session, token=valid_token(token))
    except InvalidOneTimeTokenError as error:
        hint = render(
            '<p class="hint">If you have confirmed your address already, just sign in. A link to '
            'confirm it works for $lifetime; a <a href="$forgot">password reset link</a> confirms '
            "it too.</p>",
            lifetime=duration_text(settings.email_verification_ttl_seconds),
            forgot=app_path(request, FORGOT_PASSWORD_PATH),
        )
        dead_link = message_page(
            settings, "This link no longer works", error.detail, status_code=400, more=hint
        )
        raise RefusalPageError(dead_link) from error
    return message_page(
        settings, "Email address confirmed", "Your address is confirmed: you can sign in now."
    )


# --- choose a new password ------------------------------------------------------------------

_RESET_FORM = """$problem<p>Choose a new password for your account: at least $min_length characters.
Every device signed in to your account will be signed out.</p>
<form method="post" action="$action">
<input type="hidden" name="token" value="$token">
<label for="new_password">New password</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password"
 required minlength="$min_length">
<label for="new_password_again">New password, again</label>
<input id="new_password_again" name="new_password_again" type="password" autocomplete="new-password"
 required minlength="$min_length">
<button type="submit">Set the new password</button>
</form>"""


def _reset_form(
    request: Request, settings: Settings, token: str, *, problem: Markup = _NOTHING, status_code: int = 200
) -> HTMLResponse:
    form = render(
        _RESET_FORM,
        problem=problem,
        action=app_path(request, RESET_PASSWORD_PATH),
        token=token,
        min_length=str(settings.password_min_length),
    )
    return page(
        app_name=settings.app_name, title="Choose a new password", content=form, status_code=status_code
    )


@router.get(RESET_PASSWORD_PATH)
async def reset_password_page(request: Request, settings: SettingsDep, token: str = "") -> HTMLResponse:
    if not token:
        raise RefusalPageError(incomplete_link(settings))
    return _reset_form(request, settings, token)


@router.post(RESET_PASSWORD_PATH, dependencies=[Depends(RateLimit("verify"))])
async def reset_password(
    request: Request,
    session: SessionDep,
    database: DatabaseDep,
    hasher: PasswordHasherDep,
    revocations: RevocationsDep,
    throttle: LoginThrottleDep,
    mailer: MailerDep,
    settings: SettingsDep,
    token: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    new_password_again: Annotated[str, Form()] = "",
) -> HTMLResponse:
    if new_password != new_password_again:
        problem = error_line("The two passwords differ: type the same one twice.")
        raise RefusalPageError(_reset_form(request, settings, token, problem=problem, status_code=422))
    try:
        await accounts.reset_password(
            session=session,
            database=database,
            hasher=hasher,
            revocations=revocations,
            throttle=throttle,
            mailer=mailer,
            settings=settings,
            token=valid_token(token),
            new_password=new_password,
        )
    except InvalidOneTimeTokenError as error:
        hint = render(
            '<p class="hint">A reset link works once, for $lifetime. <a href="$forgot">Ask for a '
            "new one</a>.</p>",
            lifetime=duration_text(settings.password_reset_ttl_seconds),
            forgot=app_path(request, FORGOT_PASSWORD_PATH),
        )
        dead_link = message_page(
            settings, "This link no longer works", error.detail, status_code=400, more=hint
        )
        raise RefusalPageError(dead_link) from error
    except InvalidInputError as error:
        problem = password_refusal(error)
        raise RefusalPageError(
            _reset_form(request, settings, token, problem=problem, status_code=422)
        ) from error
    return message_page(
        settings,
        "Password changed",
        "Your new password is set, and every device was signed out: sign in with the new password.",
    )


# --- ask for a reset link -------------------------------------------------------------------

_FORGOT_FORM = """$problem<p>Enter the address of your account, and we will email you a link to
choose a new password.</p>
<form method="post" action="$action">
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="email" required value="$email">
<button type="submit">Email me a link</button>
</form>"""


def _forgot_form(
    request: Request,
    settings: Settings,
    *,
    email: str = "",
    problem: Markup = _NOTHING,
    status_code: int = 200,
) -> HTMLResponse:
    form = render(_FORGOT_FORM, problem=problem, action=app_path(request, FORGOT_PASSWORD_PATH), email=email)
    return page(
        app_name=settings.app_name, title="Forgot your password?", content=form, status_code=status_code
    )


@router.get(FORGOT_PASSWORD_PATH)
async def forgot_password_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    return _forgot_form(request, settings)


@router.post(FORGOT_PASSWORD_PATH, dependencies=[Depends(RateLimit("password_forgot"))])
async def forgot_password(
    request: Request,
    after_response: AfterResponseDep,
    mailer: MailerDep,
    quota: RecipientQuotaDep,
    settings: SettingsDep,
    email: Annotated[str, Form()] = "",
) -> HTMLResponse:
    try:
        address = ForgotPasswordRequest.model_validate({"email": email}).email
    except ValidationError as error:
        problem = error_line("Enter a valid email address, such as name@example.com.")
        raise RefusalPageError(
            _forgot_form(request, settings, email=email, problem=problem, status_code=422)
        ) from error

    # As POST /api/v1/auth/password/forgot: the same page, at once, whether or not the address
    # has an account; the lookup and the email happen after the response.
    async def email_a_reset_link(session: AsyncSession) -> None:
        await accounts.request_password_reset(
            session=session, mailer=mailer, quota=quota, settings=settings, email=address
        )

    after_response.run("password_reset_request", email_a_reset_link)
    return message_page(
        settings,
        "Check your inbox",
        f"If an account exists for {address}, a link to choose a new password is on its way. "
        f"It works once, for {duration_text(settings.password_reset_ttl_seconds)}.",
    )
