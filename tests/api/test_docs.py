"""Docs are self-hosted (no CDN) and off by default in production."""

from __future__ import annotations

import base64
import hashlib
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


def csp(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    return {name: sources for name, *sources in (part.split() for part in policy.split(";"))}


def inline_hashes(html: str, tag: str) -> list[str]:
    blocks = re.findall(rf"<{tag}(?![^>]*\bsrc=)[^>]*>(.*?)</{tag}>", html, re.DOTALL)
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'" for block in blocks
    ]


async def test_swagger_ui_policy_allows_its_own_scripts_and_nothing_else(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    policy = csp(page)
    [start_up] = inline_hashes(page.text, "script")  # the inline SwaggerUIBundle({...}) call
    assert sorted(policy["script-src"]) == sorted(["'self'", start_up])
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]  # icons are data: URIs in swagger-ui.css
    assert policy["connect-src"] == ["'self'"]  # the OpenAPI document and "Try it out"
    assert policy["default-src"] == policy["frame-ancestors"] == policy["base-uri"] == ["'none'"]
    assert not any("unsafe" in source for sources in policy.values() for source in sources)


async def test_redoc_policy_allows_its_bundle_styles_and_search_worker(client: httpx.AsyncClient) -> None:
    policy = csp(await client.get("/redoc"))
    assert policy["script-src"] == ["'self'"]
    # styled-components writes <style> elements at run time; a hash beside 'unsafe-inline'
    # would switch it off, so there is none.
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["worker-src"] == ["blob:"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["default-src"] == policy["frame-ancestors"] == ["'none'"]


async def test_oauth2_redirect_page_may_run_only_its_inline_script(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs/oauth2-redirect")
    [script] = inline_hashes(page.text, "script")
    assert csp(page)["script-src"] == [script]
    assert csp(page)["default-src"] == ["'none'"]


async def test_docs_policy_follows_the_root_path(make_client: ClientFactory) -> None:
    """Behind a proxy prefix the inline script names other URLs, so it has another hash."""
    async with make_client() as client:
        plain = await client.get("/docs")
        client._transport.root_path = "/invoicer"  # type: ignore[attr-defined]
        prefixed = await client.get("/docs")
    assert "/invoicer/openapi.json" in prefixed.text
    assert inline_hashes(prefixed.text, "script")[0] in csp(prefixed)["script-src"]
    assert csp(plain)["script-src"] != csp(prefixed)["script-src"]
