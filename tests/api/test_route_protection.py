"""Routers are authenticated by default: only an explicit list of routes is public."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from tests.support.routes import HIDDEN_ROUTES, PUBLIC_OPERATIONS, PUBLIC_PAGES

pytestmark = pytest.mark.anyio


async def test_every_other_route_requires_credentials(client: httpx.AsyncClient) -> None:
    """Walks the OpenAPI document (the route inventory clients see) and calls every operation."""
    paths = (await client.get("/openapi.json")).json()["paths"]
    operations = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert operations >= PUBLIC_OPERATIONS
    protected = sorted(operations - PUBLIC_OPERATIONS)
    assert protected
    for method, path in protected:
        url = re.sub(r"\{[^}]+\}", "00000000-0000-7000-8000-000000000000", path)
        response = await client.request(method, url, json={})
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
        assert paths[path][method.lower()].get("security"), f"{method} {path} not marked as secured"


async def test_every_route_hidden_from_the_document_is_a_known_one(client: httpx.AsyncClient) -> None:
    """The walk above sees only the document: a route left out of it must be listed here."""
    app: FastAPI = client.app  # type: ignore[attr-defined]
    hidden = {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if getattr(route, "include_in_schema", True) is False
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert hidden == HIDDEN_ROUTES
    for method, path in sorted(PUBLIC_PAGES):
        # A page whose path holds its token (the hosted invoice) answers an unknown one 404.
        expected = (404,) if "{" in path else (200, 400, 422)
        url = re.sub(r"\{[^}]+\}", "unknown", path)
        response = await client.request(method, url, data={} if method == "POST" else None)
        assert response.status_code in expected, (method, path)  # never 401
        assert response.headers["content-type"] == "text/html; charset=utf-8"
