"""Every error answers application/problem+json (RFC 9457) with a stable code and request id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from pydantic import BaseModel, Field

from app.core.errors import ConflictError
from tests.conftest import ClientFactory

pytestmark = pytest.mark.anyio

PROBLEM = "application/problem+json"


class Widget(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    count: int = Field(ge=0)


def add_probe_routes(app: FastAPI) -> None:
    router = APIRouter(prefix="/probe")

    @router.post("/widgets", status_code=201)
    async def create_widget(widget: Widget) -> Widget:
        return widget

    @router.get("/conflict")
    async def conflict() -> None:
        raise ConflictError("That widget already exists.", extensions={"widget": "w1"})

    @router.get("/http-exception")
    async def http_exception() -> None:
        raise HTTPException(status_code=403, detail="Not yours.", headers={"X-Why": "test"})

    @router.get("/crash")
    async def crash() -> None:
        raise RuntimeError("password=hunter2 at /srv/secret/path.py line 42: SELECT * FROM users")

    @router.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(5)
        return {"done": "yes"}

    app.include_router(router)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:invoicer:problem:{code}"
    assert isinstance(body["title"], str)
    assert isinstance(body["detail"], str)
    request_id = response.headers["x-request-id"]
    assert body["request_id"] == request_id
    assert body["instance"] == f"urn:request:{request_id}"
    return body


@pytest.fixture
async def probe(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(configure=add_probe_routes, request_timeout_seconds=0.3) as client:
        yield client


async def test_unknown_route_is_404_problem(probe: httpx.AsyncClient) -> None:
    assert_problem(await probe.get("/no/such/route"), 404, "not_found")


async def test_wrong_method_is_405_problem_with_allow(probe: httpx.AsyncClient) -> None:
    response = await probe.delete("/probe/widgets")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


async def test_validation_lists_each_bad_field(probe: httpx.AsyncClient) -> None:
    response = await probe.post("/probe/widgets", json={"name": "", "count": -1, "extra": "x"})
    body = assert_problem(response, 422, "validation_error")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert {tuple(error["loc"]) for error in errors} == {("body", "name"), ("body", "count")}
    assert all(set(error) == {"loc", "message", "type"} for error in errors)


async def test_malformed_json_is_422_problem(probe: httpx.AsyncClient) -> None:
    response = await probe.post(
        "/probe/widgets", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["type"] == "json_invalid"  # type: ignore[index]


async def test_validation_never_echoes_input(probe: httpx.AsyncClient) -> None:
    response = await probe.post("/probe/widgets", json={"name": "p@ssw0rd-secret-long", "count": 1})
    assert_problem(response, 422, "validation_error")
    assert "p@ssw0rd" not in response.text


async def test_app_error_keeps_code_and_extensions(probe: httpx.AsyncClient) -> None:
    body = assert_problem(await probe.get("/probe/conflict"), 409, "conflict")
    assert body["detail"] == "That widget already exists."
    assert body["widget"] == "w1"


async def test_http_exception_is_a_problem_with_its_headers(probe: httpx.AsyncClient) -> None:
    response = await probe.get("/probe/http-exception")
    body = assert_problem(response, 403, "permission_denied")
    assert body["detail"] == "Not yours."
    assert response.headers["x-why"] == "test"


async def test_unhandled_exception_is_a_safe_500(probe: httpx.AsyncClient) -> None:
    response = await probe.get("/probe/crash")
    body = assert_problem(response, 500, "internal_error")
    for leak in ("hunter2", "/srv", "SELECT", "RuntimeError", "Traceback", "line 42"):
        assert leak not in response.text
    assert body["title"] == "Internal server error"
    # Still decorated by the outer middleware.
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


async def test_slow_request_times_out_with_504(probe: httpx.AsyncClient) -> None:
    response = await probe.get("/probe/slow")
    body = assert_problem(response, 504, "request_timeout")
    assert "0.3 seconds" in str(body["detail"])


async def test_success_responses_are_untouched(probe: httpx.AsyncClient) -> None:
    response = await probe.post("/probe/widgets", json={"name": "w", "count": 2})
    assert response.status_code == 201
    assert response.json() == {"name": "w", "count": 2}


async def test_openapi_documents_problem_shape(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    problem = schema["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code", "request_id", "errors"} <= set(problem["properties"])
    assert "HTTPValidationError" not in schema["components"]["schemas"]
