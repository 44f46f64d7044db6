"""Routers are authenticated by default: only an explicit list of routes is public."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.routes import PUBLIC_OPERATIONS

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
