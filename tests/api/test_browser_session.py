"""Browser sessions: an HttpOnly cookie instead of a bearer token, with CSRF on unsafe methods."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ClientFactory
from tests.support.accounts import PASSWORD, verified_account
from tests.support.smtp import MailSink

pytestmark = pytest.mark.anyio


async def sign_in(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/api/v1/auth/session", json={"email": email, "password": PASSWORD})


async def test_cookie_session_over_https(make_client: ClientFactory, mail: MailSink) -> None:
    async with make_client(base_url="https://testserver") as client:
        await verified_account(client, mail, "browser@example.com")
        response = await sign_in(client, "browser@example.com")
        assert response.status_code == 201
        csrf = response.json()["csrf_token"]
        cookies = response.headers.get_list("set-cookie")
        session_cookie = next(c for c in cookies if c.startswith("__Host-invoicer_session="))
        csrf_cookie = next(c for c in cookies if c.startswith("__Host-invoicer_session_csrf="))
        for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
            assert attribute.lower() in session_cookie.lower()
        assert "httponly" not in csrf_cookie.lower()  # the page's script must read it
        assert "Domain=" not in session_cookie

        me = await client.get("/api/v1/users/me")
        assert me.status_code == 200
        assert me.json()["email"] == "browser@example.com"

        no_csrf = await client.patch("/api/v1/users/me", json={"full_name": "Changed"})
        wrong_csrf = await client.patch(
            "/api/v1/users/me", json={"full_name": "Changed"}, headers={"X-CSRF-Token": "abc.def"}
        )
        assert no_csrf.status_code == wrong_csrf.status_code == 403
        assert no_csrf.json()["code"] == "csrf_failed"
        assert (await client.get("/api/v1/users/me")).json()["full_name"] == "Test User"

        ok = await client.patch(
            "/api/v1/users/me", json={"full_name": "Changed"}, headers={"X-CSRF-Token": csrf}
        )
        assert ok.status_code == 200
        assert ok.json()["full_name"] == "Changed"

        sessions = (await client.get("/api/v1/auth/sessions")).json()
        assert [item["kind"] for item in sessions["items"] if item["current"]] == ["browser"]

        assert (await client.delete("/api/v1/auth/session")).status_code == 403  # CSRF on DELETE too
        signed_out = await client.delete("/api/v1/auth/session", headers={"X-CSRF-Token": csrf})
        assert signed_out.status_code == 204
        assert (await client.get("/api/v1/users/me")).status_code == 401


async def test_csrf_token_of_another_session_is_refused(make_client: ClientFactory, mail: MailSink) -> None:
    async with make_client(base_url="https://testserver") as client:
        await verified_account(client, mail, "a@example.com")
        await verified_account(client, mail, "b@example.com")
        b_csrf = (await sign_in(client, "b@example.com")).json()["csrf_token"]
        await sign_in(client, "a@example.com")  # the jar now holds a's session
        # Planting b's token in both places (cookie tossing) still fails: it is bound to b's session.
        client.cookies.set("__Host-invoicer_session_csrf", b_csrf, domain="testserver")
        response = await client.patch(
            "/api/v1/users/me", json={"full_name": "X"}, headers={"X-CSRF-Token": b_csrf}
        )
        assert response.status_code == 403


async def test_wrong_password_sets_no_cookie(client: httpx.AsyncClient, mail: MailSink) -> None:
    await verified_account(client, mail, "nocookie@example.com")
    response = await client.post(
        "/api/v1/auth/session", json={"email": "nocookie@example.com", "password": "wrong password 123"}
    )
    assert response.status_code == 401
    assert "set-cookie" not in response.headers


async def test_forged_cookie_is_401(client: httpx.AsyncClient) -> None:
    client.cookies.set("invoicer_session", "forged-value-that-is-long-enough")
    response = await client.get("/api/v1/users/me")
    assert response.status_code == 401
