"""The one outbound HTTP client for webhook deliveries: pooled, explicit timeouts, no redirects."""

from __future__ import annotations

import httpx

from app.core.config import Settings


def create_webhook_client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(10.0, connect=5.0),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"User-Agent": "Invoicer-Webhooks/1"},
        trust_env=False,  # never a proxy from the environment for customers' URLs
    )
