"""The one outbound HTTP client for webhook deliveries: pooled, explicit timeouts, no redirects.

`send` makes one attempt to a target whose address was checked (app/core/security/ssrf.py):
it connects to that address, never resolving the host again, with the original `Host` header
and, over https, the original name for SNI and certificate verification. It reads at most
WEBHOOK_MAX_RESPONSE_BYTES of the answer and stops there; the whole attempt has
WEBHOOK_TIMEOUT_SECONDS, however slowly the receiver drips its answer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from app.core.config import Settings
from app.core.security.ssrf import Target

USER_AGENT = "Invoicer-Webhooks/1"


def create_webhook_client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(
            settings.webhook_timeout_seconds, connect=settings.webhook_connect_timeout_seconds
        ),
        limits=httpx.Limits(
            max_connections=settings.webhook_max_connections,
            max_keepalive_connections=settings.webhook_max_keepalive_connections,
        ),
        # An answer is read raw and cut at WEBHOOK_MAX_RESPONSE_BYTES: nothing to decompress.
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        trust_env=False,  # never a proxy from the environment for customers' URLs
    )


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    headers: httpx.Headers
    body: bytes  # at most the configured number of bytes
    latency_ms: int


def _url_for_address(target: Target) -> str:
    """The target's URL with its host replaced by the checked address."""
    parts = urlsplit(target.url)
    address = target.address.compressed
    host = f"[{address}]" if target.address.version == 6 else address
    return urlunsplit(parts._replace(netloc=f"{host}:{target.port}"))


def _host_header(target: Target) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


async def send(
    client: httpx.AsyncClient,
    target: Target,
    *,
    headers: dict[str, str],
    body: bytes,
    max_response_bytes: int,
    timeout_seconds: float,
) -> Answer:
    """POST `body`; raises httpx.HTTPError or TimeoutError when no answer came."""
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    request = client.build_request(
        "POST",
        _url_for_address(target),
        content=body,
        headers={**headers, "Host": _host_header(target)},
        extensions=extensions,
    )
    started = time.perf_counter()
    async with asyncio.timeout(timeout_seconds):
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            received = bytearray()
            if max_response_bytes > 0:
                async for chunk in response.aiter_raw():
                    received += chunk
                    if len(received) >= max_response_bytes:
                        break  # the rest is never read: the connection is closed, not reused
        finally:
            await response.aclose()
    latency_ms = round((time.perf_counter() - started) * 1000)
    return Answer(
        status_code=response.status_code,
        headers=response.headers,
        body=bytes(received[:max_response_bytes]),
        latency_ms=latency_ms,
    )
