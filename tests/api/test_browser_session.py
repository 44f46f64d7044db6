"""Browser sessions: an HttpOnly cookie instead of a bearer token, with CSRF on unsafe methods."""

from __future__ import annotations

import httpx
import pytest
import time_machine

from app.models.base import utcnow
from tests.conftest import ClientFactory
from tests.support.accounts import PASSWORD
from tests.support.factories import make_user

pytestmark = pytest.mark.anyio


async def sign_in(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/api/v1/auth/session", json={"email": email, "password": PASSWORD})


async def test_cookie_session_over_https(make_client: ClientFactory) -> None:
    async with make_client(base_url="https://testserver") as client:
        await make_user(client, "browser@example.com")
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


SESSION_COOKIE = "__Host-invoicer_session"
CSRF_COOKIE = "__Host-invoicer_session_csrf"


def session_cookie_of(response: httpx.Response) -> str:
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}="))
    return cookie.split(";", 1)[0].split("=", 1)[1]


async def patch_me(
    client: httpx.AsyncClient, *, session: str, csrf_cookie: str | None, csrf_header: str
) -> int:
    """PATCH /users/me with exactly these cookies and header (nothing from the client's jar)."""
    client.cookies.clear()
    cookies = f"{SESSION_COOKIE}={session}" + (f"; {CSRF_COOKIE}={csrf_cookie}" if csrf_cookie else "")
    response = await client.patch(
        "/api/v1/users/me", json={"full_name": "X"}, headers={"Cookie": cookies, "X-CSRF-Token": csrf_header}
    )
    return response.status_code


async def test_csrf_token_must_be_bound_to_the_session(make_client: ClientFactory) -> None:
    """Cookie tossing: a sibling subdomain plants b's CSRF token as the cookie and sends it as the
    header too. The double submit matches; only the token's binding to a's session refuses it."""
    async with make_client(base_url="https://testserver") as client:
        await make_user(client, "a@example.com")
        await make_user(client, "b@example.com")
        b_csrf = (await sign_in(client, "b@example.com")).json()["csrf_token"]
        a_signed_in = await sign_in(client, "a@example.com")
        a_session, a_csrf = session_cookie_of(a_signed_in), a_signed_in.json()["csrf_token"]

        assert await patch_me(client, session=a_session, csrf_cookie=b_csrf, csrf_header=b_csrf) == 403
        assert await patch_me(client, session=a_session, csrf_cookie=a_csrf, csrf_header=a_csrf) == 200


async def test_csrf_header_must_match_the_cookie(make_client: ClientFactory) -> None:
    """A valid token for the session in the header is not enough: the cookie must carry it too."""
    async with make_client(base_url="https://testserver") as client:
        await make_user(client, "a@example.com")
        signed_in = await sign_in(client, "a@example.com")
        session, csrf = session_cookie_of(signed_in), signed_in.json()["csrf_token"]
        other_valid = (await sign_in(client, "a@example.com")).json()["csrf_token"]  # another session's

        assert await patch_me(client, session=session, csrf_cookie=None, csrf_header=csrf) == 403
        assert await patch_me(client, session=session, csrf_cookie=other_valid, csrf_header=csrf) == 403
        assert await patch_me(client, session=session, csrf_cookie=csrf, csrf_header=csrf) == 200


async def test_signing_out_ends_the_session_on_the_server(make_client: ClientFactory) -> None:
    """Not only does the browser drop the cookie: a copy of it kept elsewhere is dead too."""
    async with make_client(base_url="https://testserver") as client:
        await make_user(client, "leaving@example.com")
        signed_in = await sign_in(client, "leaving@example.com")
        copied = session_cookie_of(signed_in)
        signed_out = await client.delete(
            "/api/v1/auth/session", headers={"X-CSRF-Token": signed_in.json()["csrf_token"]}
        )
        assert signed_out.status_code == 204
        client.cookies.clear()
        replayed = await client.get("/api/v1/users/me", headers={"Cookie": f"{SESSION_COOKIE}={copied}"})
        assert replayed.status_code == 401


async def test_an_idle_browser_session_expires(make_client: ClientFactory) -> None:
    async with make_client(
        base_url="https://testserver",
        refresh_token_idle_ttl_seconds=3600,
        refresh_token_absolute_ttl_seconds=86400,
    ) as client:
        await make_user(client, "idle@example.com")
        start = utcnow().timestamp()
        await sign_in(client, "idle@example.com")
        with time_machine.travel(start + 3000, tick=False):
            assert (await client.get("/api/v1/users/me")).status_code == 200  # used: idle time restarts
        with time_machine.travel(start + 3000 + 3601, tick=False):
            assert (await client.get("/api/v1/users/me")).status_code == 401  # long before the absolute limit


async def test_wrong_password_sets_no_cookie(client: httpx.AsyncClient) -> None:
    await make_user(client, "nocookie@example.com")
    response = await client.post(
        "/api/v1/auth/session", json={"email": "nocookie@example.com", "password": "wrong password 123"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"
    assert "set-cookie" not in response.headers


async def test_forged_cookie_is_401(client: httpx.AsyncClient) -> None:
    client.cookies.set("invoicer_session", "forged-value-that-is-long-enough")
    response = await client.get("/api/v1/users/me")
    assert response.status_code == 401
