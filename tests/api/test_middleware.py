"""Cross-cutting middleware, each seen from the client's side."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request, Response

from tests.conftest import ClientFactory
from tests.support.accounts import PASSWORD, bearer
from tests.support.factories import account_with_tokens
from tests.support.logs import json_log_lines

pytestmark = pytest.mark.anyio


def add_echo_routes(app: FastAPI) -> None:
    router = APIRouter()

    @router.post("/echo-size")
    async def echo_size(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @router.get("/big")
    async def big() -> dict[str, str]:
        return {"data": "x" * 5000}

    app.include_router(router)


async def test_request_id_is_generated_and_echoed(client: httpx.AsyncClient) -> None:
    first = await client.get("/livez")
    second = await client.get("/livez")
    assert len(first.headers["x-request-id"]) >= 20
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_valid_client_request_id_is_kept(client: httpx.AsyncClient) -> None:
    mine = "client-supplied_id-0123456789"
    response = await client.get("/no-such-route", headers={"X-Request-ID": mine})
    assert response.headers["x-request-id"] == mine
    assert response.json()["request_id"] == mine


@pytest.mark.parametrize("bad", ["short", "x" * 201, "has spaces in it, which is not allowed"])
async def test_invalid_client_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/livez", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) >= 20


async def test_invalid_traceparent_never_causes_an_error(client: httpx.AsyncClient) -> None:
    response = await client.get("/livez", headers={"traceparent": "ff-zz-not-valid"})
    assert response.status_code == 200


async def test_access_log_has_one_line_per_request(
    make_client: ClientFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with make_client(log_level="INFO", log_format="json") as client:
        capfd.readouterr()
        response = await client.get("/readyz", headers={"traceparent": trace})
        lines = json_log_lines(capfd)
    access = [line for line in lines if line.get("logger") == "invoicer.access"]
    assert len(access) == 1
    entry = access[0]
    assert entry["method"] == "GET"
    assert entry["route"] == "/readyz"
    assert entry["status"] == 200
    assert entry["request_id"] == response.headers["x-request-id"]
    assert entry["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert isinstance(entry["duration_ms"], float)
    assert entry["client"] == "127.0.0.1"


async def test_server_timing_is_off_by_default(client: httpx.AsyncClient) -> None:
    """It would hand every caller the timing differences a timing attack measures."""
    for response in (await client.get("/livez"), await client.get("/missing")):
        assert "server-timing" not in response.headers


async def test_server_timing_header_when_enabled(make_client: ClientFactory) -> None:
    async with make_client(server_timing_enabled=True) as client:
        response = await client.get("/livez")
    assert response.headers["server-timing"].startswith("app;dur=")


async def test_security_headers_on_every_response(client: httpx.AsyncClient) -> None:
    for response in (await client.get("/livez"), await client.get("/missing")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in response.headers


async def test_hsts_only_over_https(make_client: ClientFactory) -> None:
    async with make_client() as client:
        response = await client.get("https://testserver/livez")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_body_over_the_limit_is_413(make_client: ClientFactory) -> None:
    async with make_client(configure=add_echo_routes, max_request_body_bytes=2048) as client:
        ok = await client.post("/echo-size", content=b"a" * 2048)
        declared = await client.post("/echo-size", content=b"a" * 4096)

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b"b" * 1024

        streamed = await client.post("/echo-size", content=chunks())
    assert ok.json() == {"bytes": 2048}
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "payload_too_large"


async def test_gzip_above_minimum_size(make_client: ClientFactory) -> None:
    async with make_client(configure=add_echo_routes, gzip_minimum_size=1024) as client:
        big = await client.get("/big", headers={"Accept-Encoding": "gzip"})
        small = await client.get("/livez", headers={"Accept-Encoding": "gzip"})
    assert big.headers["content-encoding"] == "gzip"
    assert big.json() == {"data": "x" * 5000}
    assert "content-encoding" not in small.headers


async def test_cors_preflight_allowed_origin(make_client: ClientFactory) -> None:
    async with make_client(cors_origins=["https://app.example.test"]) as client:
        response = await client.options(
            "/readyz",
            headers={
                "Origin": "https://app.example.test",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Authorization, Idempotency-Key",
            },
        )
        simple = await client.get("/livez", headers={"Origin": "https://app.example.test"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.test"
    assert "Idempotency-Key" in response.headers["access-control-allow-headers"]
    exposed = {h.strip() for h in simple.headers["access-control-expose-headers"].split(",")}
    assert {"Link", "ETag", "RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-ID"} <= exposed


async def test_cors_preflight_refused_origin_is_problem(make_client: ClientFactory) -> None:
    async with make_client(cors_origins=["https://app.example.test"]) as client:
        response = await client.options(
            "/readyz",
            headers={"Origin": "https://evil.example.test", "Access-Control-Request-Method": "GET"},
        )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "cors_refused"
    assert "access-control-allow-origin" not in response.headers


async def test_cors_never_wildcard_with_credentials(make_client: ClientFactory) -> None:
    async with make_client(cors_origins=["https://app.example.test"], cors_allow_credentials=True) as client:
        response = await client.get("/livez", headers={"Origin": "https://app.example.test"})
    assert response.headers["access-control-allow-origin"] == "https://app.example.test"
    assert response.headers["access-control-allow-credentials"] == "true"


async def test_trusted_hosts(make_client: ClientFactory) -> None:
    async with make_client(trusted_hosts=["api.example.test", "*.tenant.example.test"]) as client:
        good = await client.get("/openapi.json", headers={"Host": "api.example.test:8443"})
        wildcard = await client.get("/openapi.json", headers={"Host": "acme.tenant.example.test"})
        bad = await client.get("/openapi.json", headers={"Host": "evil.test"})
        probe = await client.get("/livez", headers={"Host": "10.1.2.3:8000"})
    assert good.status_code == 200
    assert wildcard.status_code == 200
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["code"] == "invalid_host"
    assert probe.status_code == 200


async def test_access_log_names_the_full_route_template(
    make_client: ClientFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    """Prefixes of the routers a route was included through are part of its template."""
    session_id = "0190a0a0-0000-7000-8000-000000000000"
    async with make_client(log_level="INFO", log_format="json") as client:
        capfd.readouterr()
        await client.delete(f"/api/v1/auth/sessions/{session_id}")
        lines = json_log_lines(capfd)
    [entry] = [line for line in lines if line.get("logger") == "invoicer.access"]
    assert entry["route"] == "/api/v1/auth/sessions/{session_id}"
    assert session_id not in json.dumps(entry)


API_CSP = "default-src 'none'; frame-ancestors 'none'"


async def test_api_responses_may_load_run_or_frame_nothing(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/livez"),
        await client.get("/missing"),
        await client.get("/api/v1/users/me"),
        await client.get("/openapi.json"),
    ):
        assert response.headers["content-security-policy"] == API_CSP


def add_caching_routes(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/cacheable")
    async def cacheable(response: Response) -> dict[str, str]:
        response.headers["Cache-Control"] = "private, max-age=60"
        return {"ok": "yes"}

    @router.get("/plain")
    async def plain() -> dict[str, str]:
        return {"ok": "yes"}

    @router.get("/sets-cookie")
    async def sets_cookie(response: Response) -> dict[str, str]:
        response.set_cookie("preference", "dark")
        return {"ok": "yes"}

    app.include_router(router)


@pytest.mark.parametrize("base_url", ["http://testserver", "https://testserver"])
async def test_responses_to_credentials_are_never_stored(make_client: ClientFactory, base_url: str) -> None:
    async with make_client(base_url=base_url, configure=add_caching_routes) as client:
        tokens = await account_with_tokens(client, "nostore@example.com")
        by_bearer = await client.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))
        bad_bearer = await client.get("/api/v1/users/me", headers=bearer("not-a-token"))
        browser = await client.post(
            "/api/v1/auth/session", json={"email": "nostore@example.com", "password": PASSWORD}
        )
        assert browser.status_code == 201
        client.cookies.clear()  # sent by hand below: a Secure cookie stays home over http
        [session_cookie] = [
            cookie.split(";", 1)[0]
            for cookie in browser.headers.get_list("set-cookie")
            if cookie.split("=", 1)[0].endswith("invoicer_session")
        ]
        with_cookie = {"Cookie": f"theme=dark; {session_cookie}"}
        by_cookie = await client.get("/api/v1/users/me", headers=with_cookie)
        plain_with_cookie = await client.get("/plain", headers=with_cookie)
        own_policy = await client.get("/cacheable", headers=bearer(tokens["access_token"]))
        anonymous = await client.get("/plain")
        sets_cookie = await client.get("/sets-cookie")
    assert by_bearer.status_code == by_cookie.status_code == 200
    assert bad_bearer.status_code == 401
    for response in (by_bearer, bad_bearer, browser, by_cookie, plain_with_cookie, sets_cookie):
        assert response.headers["cache-control"] == "no-store", response.url
    assert own_policy.headers["cache-control"] == "private, max-age=60"  # the route's own choice
    assert "cache-control" not in anonymous.headers


async def test_other_cookies_do_not_count_as_credentials(make_client: ClientFactory) -> None:
    async with make_client(configure=add_caching_routes) as client:
        response = await client.get("/plain", headers={"Cookie": "theme=dark; invoicer_session_csrf=x"})
    assert "cache-control" not in response.headers
