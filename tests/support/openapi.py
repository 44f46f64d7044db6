"""The OpenAPI document as the app serves it, and what tests read from it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx

from app.main import create_app

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def served_openapi(**overrides: Any) -> dict[str, Any]:
    """`GET /openapi.json` of an app with these settings (serving it needs no database).

    Synchronous, for module-scoped fixtures: call it outside a running event loop.
    """
    from tests.conftest import settings_for_test  # here: the conftest imports this package

    app = create_app(settings_for_test(**overrides))

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get("/openapi.json")

    response = asyncio.run(get())
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation) for every operation in the document."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def template_pattern(path: str) -> re.Pattern[str]:
    """`/api/v1/auth/sessions/{session_id}` -> a pattern that matches request paths."""
    parts = re.split(r"(\{[^}]+\})", path)
    return re.compile("".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts) + "$")
