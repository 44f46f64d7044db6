"""A typed Python client generated from the served document drives a real account's life.

openapi-python-client (pinned in the dev group) generates the package once per run; the
scenario then goes through it only (sign up, verify, sign in, who am I, sessions, refresh, sign
out) against the app with its database, including errors parsed as the `Problem` model.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from app.core.uploads import ALLOWED_TYPES
from tests.support import observed_statuses
from tests.support.jobs import settling_hooks
from tests.support.openapi import served_openapi
from tests.support.smtp import MailSink

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

PACKAGE = "invoicer_client"
EMAIL = "generated@example.com"
PASSWORD = "a password for the generated client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The generated package, imported (generation takes a second or two)."""
    workdir = tmp_path_factory.mktemp("generated-client")
    document = workdir / "openapi.json"
    document.write_text(json.dumps(served_openapi()))
    config = workdir / "config.yaml"
    # No formatter run: the code is imported, not read. Downloads (attachments, the invoice PDF) are bytes.
    config.write_text(
        "post_hooks: []\ncontent_type_overrides:\n"
        + "".join(f"  {media_type}: application/octet-stream\n" for media_type in ALLOWED_TYPES)
    )
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(document),
            "--meta",
            "none",
            "--output-path",
            str(workdir / PACKAGE),
            "--config",
            str(config),
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(workdir))
    try:
        yield Generated()
    finally:
        sys.path.remove(str(workdir))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


class Generated:
    """`generated.api("auth", "auth_issue_token")`, `generated.model("Problem")`."""

    def __init__(self) -> None:
        self.package: ModuleType = importlib.import_module(PACKAGE)
        self.models: ModuleType = importlib.import_module(f"{PACKAGE}.models")

    def api(self, tag: str, operation: str) -> Any:
        return importlib.import_module(f"{PACKAGE}.api.{tag}.{operation}")

    def model(self, name: str) -> Any:
        return getattr(self.models, name)

    def client(self, app: Any, token: str | None = None) -> Any:
        """A generated client whose httpx client talks to `app` over ASGI, recording statuses."""
        httpx_args = {
            "transport": httpx.ASGITransport(app=app, raise_app_exceptions=False),
            "event_hooks": {"response": [observed_statuses.record, *settling_hooks(app)["response"]]},
        }
        options: dict[str, Any] = {"base_url": "http://testserver", "httpx_args": httpx_args}
        if token is None:
            return self.package.Client(**options)
        return self.package.AuthenticatedClient(token=token, **options)


async def test_an_account_lives_through_the_generated_client(
    generated: Any, client: httpx.AsyncClient, mail: MailSink
) -> None:
    app = client.app  # type: ignore[attr-defined]
    anonymous = generated.client(app)
    model = generated.model

    signed_up = await generated.api("auth", "auth_signup").asyncio_detailed(
        client=anonymous,
        body=model("SignupRequest")(
            email=EMAIL, password=PASSWORD, full_name="Gen Erated", organization_name="Generated Ltd"
        ),
    )
    assert signed_up.status_code == 202
    assert signed_up.parsed.status == "accepted"

    verified = await generated.api("auth", "auth_verify_email").asyncio_detailed(
        client=anonymous, body=model("VerifyEmailRequest")(token=mail.last_to(EMAIL).token())
    )
    assert verified.status_code == 204

    sign_in = generated.api("auth", "auth_issue_token")
    refused = await sign_in.asyncio_detailed(
        client=anonymous, body=model("BodyAuthIssueToken")(username=EMAIL, password="not the password at all")
    )
    assert refused.status_code == 400
    problem = refused.parsed
    assert isinstance(problem, model("Problem"))
    assert (problem.code, problem.error, problem.status) == ("invalid_credentials", "invalid_grant", 400)
    assert problem.request_id == refused.headers["x-request-id"]

    tokens = (
        await sign_in.asyncio_detailed(
            client=anonymous, body=model("BodyAuthIssueToken")(username=EMAIL, password=PASSWORD)
        )
    ).parsed
    assert isinstance(tokens, model("TokenResponse"))
    assert tokens.token_type == "bearer"

    signed_in = generated.client(app, tokens.access_token)
    me = await generated.api("users", "users_read_me").asyncio(client=signed_in)
    assert isinstance(me, model("UserPublic"))
    assert (me.email, me.email_verified) == (EMAIL, True)
    assert [membership.org_name for membership in me.memberships] == ["Generated Ltd"]

    page = await generated.api("auth", "auth_list_sessions").asyncio(client=signed_in, limit=10)
    assert isinstance(page, model("OffsetPageSessionPublic"))
    assert page.total == 1
    assert [(item.kind.value, item.current) for item in page.items] == [("token", True)]

    refreshed = await generated.api("auth", "auth_refresh").asyncio(
        client=anonymous, body=model("RefreshRequest")(refresh_token=tokens.refresh_token)
    )
    assert isinstance(refreshed, model("TokenResponse"))
    assert refreshed.refresh_token != tokens.refresh_token
    spent = await generated.api("auth", "auth_refresh").asyncio(
        client=anonymous, body=model("RefreshRequest")(refresh_token=tokens.refresh_token)
    )
    assert isinstance(spent, model("Problem"))
    assert (spent.code, spent.error) == ("invalid_grant", "invalid_grant")

    # Presenting the spent token ended the session (a leak); sign in again to sign out.
    again = await sign_in.asyncio(
        client=anonymous, body=model("BodyAuthIssueToken")(username=EMAIL, password=PASSWORD)
    )
    current = generated.client(app, again.access_token)
    signed_out = await generated.api("auth", "auth_logout").asyncio_detailed(client=current)
    assert signed_out.status_code == 204
    gone = await generated.api("users", "users_read_me").asyncio(client=current)
    assert isinstance(gone, model("Problem"))
    assert (gone.status, gone.code) == (401, "invalid_token")
