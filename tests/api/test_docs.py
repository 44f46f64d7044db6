"""Docs are self-hosted (no CDN) and off by default in production."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import ClientFactory

pytestmark = pytest.mark.anyio


async def test_swagger_ui_loads_its_assets_from_the_app(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    urls += re.findall(r"""url: ?["']([^"']+)["']""", page.text)
    assert urls
    assert not [url for url in urls if url.startswith(("http:", "https:", "//"))]
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 0


async def test_redoc_loads_its_assets_from_the_app(client: httpx.AsyncClient) -> None:
    page = await client.get("/redoc")
    assert page.status_code == 200
    assert "fonts.googleapis" not in page.text
    [script] = re.findall(r"""<script src="([^"]+)">""", page.text)
    assert not script.startswith("http")
    assert (await client.get(script)).status_code == 200


async def test_openapi_describes_the_service(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert schema["info"]["title"] == "Invoicer"
    assert "/readyz" in schema["paths"]
    assert {tag["name"] for tag in schema["tags"]} >= {"health"}


async def test_docs_are_off_when_disabled(make_client: ClientFactory) -> None:
    async with make_client(docs_enabled=False) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            response = await client.get(path)
            assert response.status_code == 404
            assert response.headers["content-type"] == "application/problem+json"
