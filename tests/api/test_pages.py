"""The links we email open real pages: followed from the delivered mail, as a person would.

Opening a link (GET) spends nothing, since mail scanners fetch links first; the page's form
(POST) does, through the same services as the JSON API.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
import time_machine
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI
from starlette.responses import HTMLResponse

from app.api.html import Markup, page
from app.api.routers.pages import PageRoute, RefusalPageError, install_pages
from app.core.config import load_settings
from app.models.base import utcnow
from tests.conftest import ClientFactory
from tests.support.accounts import PASSWORD, login, signup, verified_account
from tests.support.jobs import settling_hooks
from tests.support.logs import json_log_lines
from tests.support.otlp import OtlpSink
from tests.support.pages import assert_is_page, form_in, link_in, path_and_query, submit
from tests.support.smtp import MailSink

pytestmark = pytest.mark.anyio

EMAIL = "pages@example.com"
NEW_PASSWORD = "a whole new passphrase 2026"
HOSTILE_TOKEN = "\"><script>alert(1)</script><b x='1"


async def test_the_verification_link_opens_a_page_whose_form_confirms_the_address(
    client: httpx.AsyncClient, mail: MailSink
) -> None:
    assert (await signup(client, EMAIL)).status_code == 202
    link = link_in(mail.last_to(EMAIL).body, "/verify-email")

    # Opened twice (a mail scanner first, then the person): nothing is spent.
    for _ in range(2):
        opened = await client.get(path_and_query(link))
        assert_is_page(opened, 200)
    assert (await login(client, EMAIL)).json()["code"] == "email_not_verified"
    form = form_in(opened)
    assert form.action == "/verify-email"
    assert form.fields == {"token": mail.last_to(EMAIL).token()}

    confirmed = await submit(client, form)
    assert_is_page(confirmed, 200)
    assert "Email address confirmed" in confirmed.text
    assert (await login(client, EMAIL)).status_code == 200

    again = await submit(client, form)
    assert_is_page(again, 400)
    assert "The link is invalid, expired or already used." in again.text


async def test_the_reset_link_opens_a_form_that_sets_the_new_password(
    client: httpx.AsyncClient, mail: MailSink
) -> None:
    await verified_account(client, mail, EMAIL)
    asked = await submit(client, form_in(await client.get("/forgot-password")), email=EMAIL)
    assert_is_page(asked, 200)
    link = link_in(mail.last_to(EMAIL).body, "/reset-password")

    for _ in range(2):
        opened = await client.get(path_and_query(link))
        assert_is_page(opened, 200)
    form = form_in(opened)
    assert form.action == "/reset-password"
    assert form.fields == {"token": mail.last_to(EMAIL).token(), "new_password": "", "new_password_again": ""}

    # Refusals show the form again, the token still in it, and spend nothing.
    differ = await submit(client, form, new_password=NEW_PASSWORD, new_password_again=NEW_PASSWORD + "!")
    assert_is_page(differ, 422)
    assert "The two passwords differ" in differ.text
    weak = await submit(client, form_in(differ), new_password="password", new_password_again="password")
    assert_is_page(weak, 422)
    assert "Choose another password. This one must be at least 12 characters; is too common." in weak.text
    assert form_in(weak).fields["token"] == form.fields["token"]

    changed = await submit(client, form_in(weak), new_password=NEW_PASSWORD, new_password_again=NEW_PASSWORD)
    assert_is_page(changed, 200)
    assert "Password changed" in changed.text
    assert (await login(client, EMAIL, NEW_PASSWORD)).status_code == 200
    assert (await login(client, EMAIL, PASSWORD)).status_code == 400  # invalid_grant
    assert mail.last_to(EMAIL).subject == "Your Invoicer password was changed"

    reused = await submit(
        client, form, new_password="yet another passphrase 99", new_password_again="yet another passphrase 99"
    )
    assert_is_page(reused, 400)
    assert 'href="/forgot-password"' in reused.text
    assert (await login(client, EMAIL, NEW_PASSWORD)).status_code == 200


async def test_the_sign_up_notice_links_to_a_page_that_emails_a_reset_link(
    client: httpx.AsyncClient, mail: MailSink
) -> None:
    await verified_account(client, mail, EMAIL)
    assert (await signup(client, EMAIL)).status_code == 202  # the address is taken: a notice
    notice = mail.last_to(EMAIL)
    assert notice.subject.startswith("Someone tried to sign up")
    opened = await client.get(path_and_query(link_in(notice.body, "/forgot-password")))
    assert_is_page(opened, 200)
    asked = await submit(client, form_in(opened), email=EMAIL.upper())
    assert_is_page(asked, 200)
    assert mail.last_to(EMAIL).subject == "Reset your Invoicer password"


async def test_asking_for_a_reset_link_answers_alike_for_unknown_addresses(
    client: httpx.AsyncClient, mail: MailSink
) -> None:
    await verified_account(client, mail, EMAIL)
    form = form_in(await client.get("/forgot-password"))
    mail.clear()
    known = await submit(client, form, email=EMAIL)
    unknown = await submit(client, form, email="nobody@example.com")
    assert_is_page(unknown, 200)
    assert unknown.text.replace("nobody@example.com", EMAIL) == known.text
    assert [message.to for message in mail.received()] == [[EMAIL]]


async def test_a_hostile_token_is_shown_escaped_and_refused(client: httpx.AsyncClient) -> None:
    for path in ("/verify-email", "/reset-password"):
        opened = await client.get(path, params={"token": HOSTILE_TOKEN})
        assert_is_page(opened, 200)
        assert f'name="token" value="{html.escape(HOSTILE_TOKEN)}"' in opened.text
        assert form_in(opened).fields["token"] == HOSTILE_TOKEN  # the browser sends it back as it came
        refused = await submit(
            client, form_in(opened), new_password=NEW_PASSWORD, new_password_again=NEW_PASSWORD
        )
        assert_is_page(refused, 400)
        assert "This link no longer works" in refused.text


@pytest.mark.parametrize(
    ("refuse", "outcome"), [(False, ["committed", "mail sent"]), (True, ["rolled back"])]
)
async def test_a_refusal_page_rolls_back_and_drops_the_queued_work(refuse: bool, outcome: list[str]) -> None:
    """As when a JSON endpoint raises: a refused form's transaction and email do not happen."""
    seen: list[str] = []

    async def unit_of_work() -> AsyncIterator[None]:
        try:
            yield
        except BaseException:
            seen.append("rolled back")
            raise
        seen.append("committed")

    app = FastAPI()
    app.state.settings = load_settings(app_env="test")
    install_pages(app)
    probe = APIRouter(route_class=PageRoute)

    @probe.post("/probe", dependencies=[Depends(unit_of_work, scope="function")])
    async def probe_page(background: BackgroundTasks) -> HTMLResponse:
        background.add_task(seen.append, "mail sent")
        result = page(app_name="Test", title="Result", content=Markup(), status_code=400 if refuse else 200)
        if refuse:
            raise RefusalPageError(result)
        return result

    app.include_router(probe)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", event_hooks=settling_hooks(app)
    ) as client:
        answer = await client.post("/probe")
    assert (answer.status_code, answer.headers["content-type"]) == (
        400 if refuse else 200,
        "text/html; charset=utf-8",
    )
    assert seen == outcome


async def test_an_unreadable_form_gets_a_page_too(client: httpx.AsyncClient) -> None:
    sent_a_file = await client.post("/verify-email", files={"token": ("token.txt", b"x" * 43)})
    assert_is_page(sent_a_file, 422)
    assert "The form could not be read" in sent_a_file.text


async def test_an_unknown_address_is_echoed_escaped(client: httpx.AsyncClient) -> None:
    hostile = '"><img src=x onerror=alert(1)>@example.com'
    refused = await client.post("/forgot-password", data={"email": hostile})
    assert_is_page(refused, 422)
    assert "Enter a valid email address" in refused.text
    assert form_in(refused).fields["email"] == hostile
    assert "<img" not in refused.text


@pytest.mark.parametrize("path", ["/verify-email", "/reset-password"])
async def test_a_link_without_its_token_says_so(client: httpx.AsyncClient, path: str) -> None:
    for opened in (await client.get(path), await client.get(f"{path}?token=")):
        assert_is_page(opened, 400)
        assert "This link is incomplete" in opened.text
    posted = await client.post(path, data={})
    assert_is_page(posted, 400)
    assert "This link no longer works" in posted.text


async def test_an_expired_verification_link_is_refused_on_a_page(
    make_client: ClientFactory, mail: MailSink
) -> None:
    async with make_client(email_verification_ttl_seconds=600) as client:
        assert (await signup(client, EMAIL)).status_code == 202
        form = form_in(await client.get(path_and_query(link_in(mail.last_to(EMAIL).body, "/verify-email"))))
        with time_machine.travel(utcnow() + timedelta(seconds=601), tick=False):
            expired = await submit(client, form)
        assert_is_page(expired, 400)
        assert "The link is invalid, expired or already used." in expired.text
        assert (await submit(client, form)).status_code == 200  # the refusal spent nothing


async def test_the_forms_share_the_json_endpoints_rate_limits(make_client: ClientFactory) -> None:
    async with make_client(rate_limit_verify="2/hour") as client:
        assert (await client.post("/api/v1/auth/verify-email", json={"token": "x" * 43})).status_code == 400
        assert (await client.post("/verify-email", data={"token": "x" * 43})).status_code == 400
        limited = await client.post("/reset-password", data={"token": "x" * 43})
        assert_is_page(limited, 429)
        assert int(limited.headers["retry-after"]) > 0
        assert limited.headers["ratelimit-policy"].startswith('"verify"')
        # Opening a link counts nothing: a scanner's visit does not spend the person's quota.
        assert (await client.get("/verify-email?token=abc")).status_code == 200


async def test_an_oversized_form_is_refused_before_it_is_read(make_client: ClientFactory) -> None:
    async with make_client(max_request_body_bytes=1024) as client:
        response = await client.post("/reset-password", data={"token": "t" * 2000})
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"


@pytest.fixture
def otlp() -> Iterator[OtlpSink]:
    sink = OtlpSink()
    sink.start()
    yield sink
    sink.stop()


async def test_an_emailed_token_reaches_neither_the_log_nor_the_traces(
    make_client: ClientFactory, mail: MailSink, otlp: OtlpSink, capfd: pytest.CaptureFixture[str]
) -> None:
    """The link's token is in the URL opened: the log and the spans name the route, not the URL."""
    async with make_client(
        otel_exporter_otlp_endpoint=otlp.url, log_level="INFO", log_format="json"
    ) as client:
        assert (await signup(client, EMAIL)).status_code == 202
        link = link_in(mail.last_to(EMAIL).body, "/verify-email")
        token = mail.last_to(EMAIL).token()
        capfd.readouterr()
        opened = await client.get(path_and_query(link))
        assert (await submit(client, form_in(opened))).status_code == 200
        # The test's own HTTP client logs the URLs it requests: not the app's log.
        logs = [line for line in json_log_lines(capfd) if line.get("logger") != "httpx"]
    access = [line for line in logs if line.get("logger") == "invoicer.access"]
    assert [(line["method"], line["route"]) for line in access] == [
        ("GET", "/verify-email"),
        ("POST", "/verify-email"),
    ]
    assert not [line for line in logs if token in str(line)]
    servers = [span for span in otlp.spans if span.name in ("GET /verify-email", "POST /verify-email")]
    assert [span.attributes["http.url"] for span in servers] == ["http://testserver/verify-email"] * 2
    assert not [span for span in otlp.spans if token in str(span.attributes)]
