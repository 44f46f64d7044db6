"""204 responses carry no content, and say so: no Content-Type, no Content-Length."""

from __future__ import annotations

import httpx
import pytest

from tests.support.accounts import bearer, login, tokens_for
from tests.support.openapi import operations, served_openapi
from tests.support.smtp import MailSink

pytestmark = pytest.mark.anyio


def assert_no_content(response: httpx.Response) -> None:
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert "content-type" not in response.headers
    assert "content-length" not in response.headers


async def test_no_content_answers_have_no_content_headers(client: httpx.AsyncClient, mail: MailSink) -> None:
    tokens = await tokens_for(client, mail, "empty@example.com")
    first, second = [(await login(client, "empty@example.com")).json() for _ in range(2)]
    listed = await client.get("/api/v1/auth/sessions", headers=bearer(first["access_token"]))
    [first_id] = [item["id"] for item in listed.json()["items"] if item["current"]]

    ended = await client.delete(f"/api/v1/auth/sessions/{first_id}", headers=bearer(tokens["access_token"]))
    assert_no_content(ended)
    assert_no_content(await client.post("/api/v1/auth/logout", headers=bearer(second["access_token"])))
    assert_no_content(await client.post("/api/v1/auth/logout-all", headers=bearer(tokens["access_token"])))


def test_the_document_promises_no_content_on_204() -> None:
    for method, path, operation in operations(served_openapi()):
        if "204" in operation["responses"]:
            assert "content" not in operation["responses"]["204"], (method, path)
