"""Refuse requests whose Host header is not ours, as problem+json (Starlette's is plain text)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.problems import app_error_response
from app.core.errors import AppError, InvalidHostError

# Orchestrator probes address the pod by IP, not by public host name.
PROBE_PATHS = frozenset({"/livez", "/readyz"})


def host_name(header: str) -> str:
    """`example.com:8443` -> `example.com`; `[::1]:8000` -> `::1`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else ""
    return header.split(":", 1)[0]


class TrustedHostMiddleware:
    @classmethod
    def refusals(cls, path: str, options: Mapping[str, Any]) -> tuple[type[AppError], ...]:
        """For the OpenAPI document: every path but the probes', unless any host is allowed."""
        if "*" in options["allowed_hosts"] or path in PROBE_PATHS:
            return ()
        return (InvalidHostError,)

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.allow_any = "*" in allowed_hosts
        self.exact = {host.lower() for host in allowed_hosts if not host.startswith("*.")}
        self.suffixes = tuple(host[1:].lower() for host in allowed_hosts if host.startswith("*."))

    def is_allowed(self, host: str) -> bool:
        return host in self.exact or (bool(self.suffixes) and host.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allow_any or scope["type"] not in ("http", "websocket") or scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        if self.is_allowed(host_name(Headers(scope=scope).get("host", ""))):
            await self.app(scope, receive, send)
            return
        await app_error_response(InvalidHostError())(scope, receive, send)
