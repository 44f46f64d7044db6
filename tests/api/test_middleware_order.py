"""The middleware order (app/api/middleware/__init__.py), seen from outside: what a refusal by one
layer still gets from the layers around it, and which layers a request never reaches."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from tests.conftest import ClientFactory
from tests.support.logs import json_log_lines

pytestmark = pytest.mark.anyio

ORIGIN = "https://app.example.test"
ME = "/api/v1/users/me"


def add_crash_route(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    app.include_router(router)


def access_log_statuses(capfd: pytest.CaptureFixture[str]) -> list[int]:
    return [line["status"] for line in json_log_lines(capfd) if line.get("logger") == "invoicer.access"]


def assert_decorated(response: httpx.Response) -> None:
    """What the outer layers (request context, security headers) add to every response."""
    request_id = response.headers["x-request-id"]
    assert response.json()["request_id"] == request_id
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


async def test_a_request_refused_for_its_host_is_still_identified_hardened_and_logged(
    make_client: ClientFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    """The host check sits inside the request id, the access log and the security headers."""
    async with make_client(trusted_hosts=["api.example.test"], log_level="INFO", log_format="json") as client:
        capfd.readouterr()
        response = await client.get(ME, headers={"Host": "evil.test", "Authorization": "Bearer x"})
        statuses = access_log_statuses(capfd)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_host"
    assert_decorated(response)
    assert response.headers["cache-control"] == "no-store"  # it answered a request with credentials
    assert statuses == [400]


async def test_a_cors_preflight_never_reaches_authentication(make_client: ClientFactory) -> None:
    """Browsers send preflights without credentials: CORS answers them before any route runs."""
    async with make_client(cors_origins=[ORIGIN]) as client:
        allowed = await client.options(
            ME,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "Authorization, Content-Type",
            },
        )
        refused = await client.options(
            ME, headers={"Origin": "https://evil.example.test", "Access-Control-Request-Method": "GET"}
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "www-authenticate" not in allowed.headers
    assert refused.status_code == 400
    assert refused.json()["code"] == "cors_refused"
    assert "www-authenticate" not in refused.headers


async def test_a_crash_passes_back_through_every_layer(
    make_client: ClientFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    """The error guard is innermost: its 500 is logged, hardened, and readable by an allowed origin."""
    async with make_client(
        configure=add_crash_route, cors_origins=[ORIGIN], log_level="INFO", log_format="json"
    ) as client:
        capfd.readouterr()
        response = await client.get("/crash", headers={"Origin": ORIGIN})
        statuses = access_log_statuses(capfd)
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert_decorated(response)
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert statuses == [500]
