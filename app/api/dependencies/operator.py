"""Operators' views of the service (metrics, readiness details): the METRICS_TOKEN bearer."""

from __future__ import annotations

import hmac

from fastapi import Request

from app.core.config import Settings


def presents_operator_token(request: Request, settings: Settings) -> bool:
    """Whether the request carries `Authorization: Bearer <METRICS_TOKEN>`; never without one set.

    Compared in constant time, so response times reveal nothing about how much of it matched.
    """
    if settings.metrics_token is None:
        return False
    expected = f"Bearer {settings.metrics_token.get_secret_value()}"
    return hmac.compare_digest(request.headers.get("authorization", "").encode(), expected.encode())
