"""GET /metrics: request count, latency and errors per route template, in Prometheus format."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ClientFactory
from tests.support.accounts import bearer
from tests.support.factories import account_with_tokens

pytestmark = pytest.mark.anyio


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def requests_total(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], **labels: str) -> float:
    return scraped.get(("http_requests_total", frozenset(labels.items())), 0.0)


async def test_requests_are_counted_and_timed_per_route_template(client: httpx.AsyncClient) -> None:
    tokens = await account_with_tokens(client, "metrics@example.com")
    for _ in range(3):
        assert (await client.get("/livez")).status_code == 200
    assert (await client.get("/api/v1/users/me")).status_code == 401
    assert (await client.get("/no/such/page")).status_code == 404
    for session_id in ("0190a0a0-0000-7000-8000-000000000001", "0190a0a0-0000-7000-8000-000000000002"):
        ended = await client.delete(
            f"/api/v1/auth/sessions/{session_id}", headers=bearer(tokens["access_token"])
        )
        assert ended.status_code == 404

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    scraped = samples(response.text)
    assert requests_total(scraped, method="GET", route="/livez", status="200") == 3
    assert requests_total(scraped, method="GET", route="/api/v1/users/me", status="401") == 1
    assert requests_total(scraped, method="GET", route="<unmatched>", status="404") == 1
    # One series for both ids: labels are templates, so their number stays bounded.
    assert (
        requests_total(scraped, method="DELETE", route="/api/v1/auth/sessions/{session_id}", status="404")
        == 2
    )
    assert not any("0190a0a0" in str(labels) for _, labels in scraped)
    livez = frozenset({("method", "GET"), ("route", "/livez")})
    assert scraped[("http_request_duration_seconds_count", livez)] == 3
    assert scraped[("http_request_duration_seconds_sum", livez)] > 0
    assert scraped[("http_requests_in_progress", frozenset({("method", "GET")}))] == 1  # the scrape


async def test_a_metrics_token_is_required_once_configured(make_client: ClientFactory) -> None:
    token = "scrape-token-0123456789abcdef"
    async with make_client(metrics_token=token) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
        allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200
        assert "http_requests_total" in allowed.text


async def test_metrics_can_be_turned_off(make_client: ClientFactory) -> None:
    async with make_client(metrics_enabled=False) as client:
        assert (await client.get("/metrics")).status_code == 404
        assert (await client.get("/livez")).status_code == 200


async def test_docs_and_the_openapi_document_are_labelled_by_their_paths(client: httpx.AsyncClient) -> None:
    for path in (
        "/openapi.json",
        "/docs",
        "/redoc",
        "/docs-assets/swagger-ui.css",
        "/docs-assets/favicon.png",
    ):
        assert (await client.get(path)).status_code == 200, path
    scraped = samples((await client.get("/metrics")).text)
    for route, count in [("/openapi.json", 1), ("/docs", 1), ("/redoc", 1), ("/docs-assets/{path}", 2)]:
        assert requests_total(scraped, method="GET", route=route, status="200") == count, route
    assert requests_total(scraped, method="GET", route="<unmatched>", status="200") == 0
