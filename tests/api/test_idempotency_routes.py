"""Idempotency-Key across the API: a route that requires it, the document, and every POST."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI, status
from fastapi.routing import APIRoute, iter_route_contexts

from app.api.dependencies.auth import CurrentCaller
from app.api.dependencies.core import SessionDep
from app.api.dependencies.idempotency import (
    IdempotencyRequired,
    IdempotentRoute,
    is_idempotency_dependency,
)
from app.core.permissions import Role
from tests.conftest import ClientFactory
from tests.support.tenants import make_tenant

pytestmark = pytest.mark.anyio

KEY = "5d2c0a8e-7b41-4f3e-8c9d-1e6a2b7f4c30"


# --- a route that requires the key (payments will), added for these tests only ---------------


def required_route(app: FastAPI) -> None:
    router = APIRouter(route_class=IdempotentRoute)

    @router.post("/api/v1/test-required", status_code=status.HTTP_201_CREATED)
    async def create_required(
        caller: CurrentCaller, session: SessionDep, _idempotent: IdempotencyRequired
    ) -> dict[str, str]:
        return {"created": "yes"}

    app.include_router(router)


async def test_a_route_that_requires_the_key_refuses_a_request_without_one(
    make_client: ClientFactory,
) -> None:
    async with make_client(configure=required_route) as client:
        acme = await make_tenant(client)
        headers = acme.auth[Role.MEMBER]
        missing = await client.post("/api/v1/test-required", headers=headers)
        assert missing.status_code == 400
        assert missing.json()["code"] == "idempotency_key_required"
        keyed = {**headers, "Idempotency-Key": KEY}
        assert (await client.post("/api/v1/test-required", headers=keyed)).status_code == 201
        replay = await client.post("/api/v1/test-required", headers=keyed)
        assert replay.headers["idempotent-replayed"] == "true"
        document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/test-required"]["post"]
    [parameter] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert parameter["required"] is True
    assert "idempotency_key_required" in operation["responses"]["400"]["description"]


async def test_the_document_describes_the_header_and_its_answers(client: httpx.AsyncClient) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/api/v1/orgs/{org_id}/customers"]["post"]
    [parameter] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert (parameter["in"], parameter.get("required", False)) == ("header", False)
    assert (parameter["schema"]["minLength"], parameter["schema"]["maxLength"]) == (1, 255)
    assert parameter["description"]
    replayed = operation["responses"]["201"]["headers"]["Idempotent-Replayed"]
    assert replayed["required"] is False
    for status_code, code in (
        ("400", "invalid_idempotency_key"),
        ("409", "idempotency_request_in_flight"),
        ("422", "idempotency_key_reused"),
    ):
        assert code in operation["responses"][status_code]["description"]


# --- every POST honours the key, but these -----------------------------------------------------

# Each exempt POST, and why. Public ones have no caller to scope a key to, and what they answer
# is a credential or a one-time secret that must never be replayable from a stored copy.
EXEMPT_POSTS: dict[str, str] = {
    "/api/v1/auth/signup": "public; retrying it is harmless (the address is taken or answered alike)",
    "/api/v1/auth/verify-email": "public; spends a one-time token",
    "/api/v1/auth/token": "public; answers tokens, which must not be replayable",
    "/api/v1/auth/refresh": "public; answers tokens, and reusing a refresh token ends its session",
    "/api/v1/auth/revoke": "public; revoking twice is the same as once (RFC 7009)",
    "/api/v1/auth/password/forgot": "public; answers the same whatever happens",
    "/api/v1/auth/password/reset": "public; spends a one-time token, carries a password",
    "/api/v1/auth/session": "public; sets a session cookie, which must not be replayable",
    "/api/v1/invitations/signup": "public; spends an invitation, carries a password",
    "/verify-email": "an HTML form's page, public",
    "/reset-password": "an HTML form's page, public",
    "/forgot-password": "an HTML form's page, public",
    "/invitations/accept": "an HTML form's page, public",
    "/api/v1/users/me/password": "carries passwords, and hashes them without holding a connection",
}


async def test_every_authenticated_post_honours_the_idempotency_key(client: httpx.AsyncClient) -> None:
    app: FastAPI = client.app  # type: ignore[attr-defined]
    honouring, exempt = set(), set()
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or "POST" not in (route.methods or ()):
            continue
        path = str(route.path_format)
        calls = [sub.call for sub in route.dependant.dependencies]
        declared = [call for call in calls if is_idempotency_dependency(call)]
        if path in EXEMPT_POSTS:
            exempt.add(path)
            assert declared == [], f"{path} is listed as exempt"
            continue
        honouring.add(path)
        assert declared, f"POST {path}: add `_idempotent: Idempotent` as its last parameter"
        assert is_idempotency_dependency(calls[-1]), f"POST {path}: the idempotency dependency goes last"
        assert isinstance(route.original_route, IdempotentRoute), f"POST {path}: route_class=IdempotentRoute"
    assert exempt == set(EXEMPT_POSTS), "an exemption names a route that no longer exists"
    assert "/api/v1/orgs/{org_id}/customers" in honouring
    assert "/api/v1/orgs/{org_id}/api-keys" in honouring
