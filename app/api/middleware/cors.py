"""CORS from settings; a refused preflight answers problem+json like every other error."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from app.api.problems import app_error_response
from app.core.errors import CorsRefusedError

# Headers a browser client must be able to read (pagination, concurrency, rate limits, ids).
EXPOSED_HEADERS = (
    "Link",
    "ETag",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "X-Request-ID",
    "Idempotent-Replayed",
)
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    "X-Request-ID",
    "X-CSRF-Token",
    "traceparent",
)
ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class ProblemCORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        refused = bytes(response.body).decode()
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        headers.pop("content-type", None)
        return app_error_response(CorsRefusedError(refused, headers=headers))
