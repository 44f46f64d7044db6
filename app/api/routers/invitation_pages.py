"""The page an invitation's emailed link opens: join by creating an account, or sign in first.

As the other pages (app/api/routers/pages.py): opening the link spends nothing; the form
posts the token through the same service as the JSON API (`invitations.sign_up`). Someone
who already has an account signs in and accepts in the app (`POST /api/v1/invitations/accept`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import HTMLResponse

from app.api.dependencies.auth import PasswordHasherDep
from app.api.dependencies.core import SessionDep, SettingsDep
from app.api.dependencies.rate_limit import RateLimit
from app.api.html import Markup, page, render
from app.api.routers.pages import (
    PageRoute,
    RefusalPageError,
    app_path,
    error_line,
    incomplete_link,
    message_page,
    password_refusal,
)
from app.core.config import Settings
from app.core.errors import (
    AlreadyMemberError,
    AlreadyRegisteredError,
    InvalidInputError,
    InvalidInvitationError,
    InvitationExpiredError,
    InvitationRevokedError,
    InvitationUsedError,
)
from app.services import invitations

INVITATION_PATH = "/invitations/accept"

router = APIRouter(include_in_schema=False, route_class=PageRoute)

_JOIN_FORM = """$problem<p>You are invited to join an organization on Invoicer. Create your account
to accept: your email address is the one the invitation was sent to.</p>
<form method="post" action="$action">
<input type="hidden" name="token" value="$token">
<label for="full_name">Your name</label>
<input id="full_name" name="full_name" autocomplete="name" required maxlength="200">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="new-password"
 required minlength="$min_length">
<label for="password_again">Password, again</label>
<input id="password_again" name="password_again" type="password" autocomplete="new-password"
 required minlength="$min_length">
<button type="submit">Create my account and join</button>
</form>
<p class="hint">Already have an account? Sign in, and accept the invitation there.</p>"""
_DEAD_LINK = (InvalidInvitationError, InvitationExpiredError, InvitationRevokedError, InvitationUsedError)


def _join_form(
    request: Request, settings: Settings, token: str, *, problem: Markup | None = None, status_code: int = 200
) -> HTMLResponse:
    form = render(
        _JOIN_FORM,
        problem=problem or Markup(),
        action=app_path(request, INVITATION_PATH),
        token=token,
        min_length=str(settings.password_min_length),
    )
    return page(app_name=settings.app_name, title="Join on Invoicer", content=form, status_code=status_code)


@router.get(INVITATION_PATH)
async def invitation_page(request: Request, settings: SettingsDep, token: str = "") -> HTMLResponse:
    if not token:
        raise RefusalPageError(incomplete_link(settings))
    return _join_form(request, settings, token)


@router.post(INVITATION_PATH, dependencies=[Depends(RateLimit("signup"))])
async def join_with_invitation(
    request: Request,
    session: SessionDep,
    hasher: PasswordHasherDep,
    settings: SettingsDep,
    token: Annotated[str, Form(max_length=512)] = "",
    full_name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    password_again: Annotated[str, Form(max_length=4096)] = "",
) -> HTMLResponse:
    if password != password_again:
        problem = error_line("The two passwords differ: type the same one twice.")
        raise RefusalPageError(_join_form(request, settings, token, problem=problem, status_code=422))
    if not full_name.strip():
        raise RefusalPageError(
            _join_form(request, settings, token, problem=error_line("Enter your name."), status_code=422)
        )
    try:
        await invitations.sign_up(
            session=session,
            hasher=hasher,
            settings=settings,
            token=token,
            password=password,
            full_name=full_name.strip(),
        )
    except _DEAD_LINK as error:
        more = render('<p class="hint">Ask the person who invited you for a new invitation.</p>')
        raise RefusalPageError(
            message_page(
                settings, "This invitation no longer works", error.detail, status_code=400, more=more
            )
        ) from error
    except (AlreadyRegisteredError, AlreadyMemberError) as error:
        raise RefusalPageError(
            message_page(settings, "You have an account", error.detail, status_code=409)
        ) from error
    except InvalidInputError as error:
        problem = password_refusal(error)
        raise RefusalPageError(
            _join_form(request, settings, token, problem=problem, status_code=422)
        ) from error
    return message_page(settings, "Welcome", "Your account is ready and you have joined: sign in now.")
