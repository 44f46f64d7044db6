"""The real `invoicer serve --port`: the links it emails open its pages, as they are."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from app.db.migrate import upgrade_to_head
from tests.support.accounts import PASSWORD
from tests.support.live_server import serve_env, start_server, wait_until_ready
from tests.support.network import free_port
from tests.support.pages import form_in, link_in
from tests.support.smtp import MailSink, ReceivedMail

pytestmark = pytest.mark.slow

EMAIL = "served-links@example.com"


def wait_for_mail(mail: MailSink, address: str, deadline_seconds: float = 10) -> ReceivedMail:
    deadline = time.monotonic() + deadline_seconds
    while not mail.to(address):
        assert time.monotonic() < deadline, f"no mail to {address}"
        time.sleep(0.1)
    return mail.last_to(address)


def test_the_verification_link_opens_the_page_of_the_port_served(tmp_path: Path, mail: MailSink) -> None:
    port, configured_port = free_port(), free_port()
    # PORT says one thing, --port another: the links must follow what is served.
    env = serve_env(
        tmp_path / "links.db",
        configured_port,
        EMAIL_TRANSPORT="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(mail.port),
        LOG_LEVEL="WARNING",
        # OWASP's floor, as in the rest of the suite: no test here depends on the hash's cost.
        PASSWORD_HASH_MEMORY_KIB="19456",
        PASSWORD_HASH_TIME_COST="2",
    )
    env.pop("PUBLIC_BASE_URL", None)
    asyncio.run(upgrade_to_head(env["DATABASE_URL"]))  # in this process: one start-up fewer
    server = start_server(env, "--host", "127.0.0.1", "--port", str(port), read_output=False)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base)
        signup = {
            "email": EMAIL,
            "password": PASSWORD,
            "full_name": "Link Follower",
            "organization_name": "Links",
        }
        assert httpx.post(f"{base}/api/v1/auth/signup", json=signup, timeout=10).status_code == 202
        link = link_in(wait_for_mail(mail, EMAIL).body, "/verify-email")
        assert link.startswith(f"{base}/verify-email?token=")

        with httpx.Client(base_url=base, timeout=10) as browser:
            opened = browser.get(link)
            assert opened.status_code == 200
            form = form_in(opened)
            confirmed = browser.post(form.action, data=form.fields)
            assert confirmed.status_code == 200
            assert "Email address confirmed" in confirmed.text
            signed_in = browser.post("/api/v1/auth/token", data={"username": EMAIL, "password": PASSWORD})
            assert signed_in.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
