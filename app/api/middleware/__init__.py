"""The middleware stack, in one place, outermost first, with the reason for each position."""

from __future__ import annotations

import re

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

from app.api.middleware.access_log import AccessLogMiddleware
from app.api.middleware.body_limit import BodyAllowance, BodySizeLimitMiddleware
from app.api.middleware.cors import (
    ALLOWED_HEADERS,
    ALLOWED_METHODS,
    EXPOSED_HEADERS,
    ProblemCORSMiddleware,
)
from app.api.middleware.error_guard import ErrorGuardMiddleware
from app.api.middleware.metrics import MetricsMiddleware
from app.api.middleware.no_content import NoContentMiddleware
from app.api.middleware.request_context import RequestContextMiddleware
from app.api.middleware.security_headers import SecurityHeadersMiddleware
from app.api.middleware.timeout import RequestTimeoutMiddleware
from app.api.middleware.trusted_host import TrustedHostMiddleware
from app.core.config import Settings
from app.core.metrics import HttpMetrics
from app.core.tracing import drop_query_string, request_span_details

# The multipart framing around an upload's file: its headers, boundaries and text fields.
UPLOAD_FRAMING_BYTES = 64 * 1024
UPLOAD_PATH = re.compile(r"/api/v1/orgs/[^/]+/invoices/[^/]+/attachments")


def body_allowances(settings: Settings) -> list[BodyAllowance]:
    """Routes allowed more than MAX_REQUEST_BODY_BYTES: attachment uploads, up to their file limit
    (which the route enforces on the file itself while it streams) and the framing."""
    upload_limit = settings.attachment_max_bytes + UPLOAD_FRAMING_BYTES
    if upload_limit <= settings.max_request_body_bytes:
        return []
    return [BodyAllowance(method="POST", path=UPLOAD_PATH, max_bytes=upload_limit)]


def build_middleware(
    settings: Settings, *, metrics: HttpMetrics | None, tracer_provider: TracerProvider | None
) -> list[Middleware]:
    """Outermost first. Every layer is pure ASGI: no BaseHTTPMiddleware, no body buffering."""
    return [
        # 0. The request's span (when tracing is on) encloses everything, logs included, so
        #    their trace id is the span's. Probes and scrapes make no traces.
        *(
            [
                Middleware(
                    OpenTelemetryMiddleware,
                    tracer_provider=tracer_provider,
                    default_span_details=request_span_details,
                    server_request_hook=drop_query_string,
                    excluded_urls="/livez,/readyz,/metrics",
                    exclude_spans=["receive", "send"],
                )
            ]
            if tracer_provider is not None
            else []
        ),
        # 1. First in, last out: every log line below and every response (even a rejection
        #    by a later layer) carries the request id.
        Middleware(RequestContextMiddleware),
        # 2. Sees the final status of everything inside it, including guarded 500s and 504s.
        Middleware(AccessLogMiddleware, server_timing=settings.server_timing_enabled),
        # 2b. Metrics, for the same reason (unless METRICS_ENABLED=false).
        *([Middleware(MetricsMiddleware, metrics=metrics)] if metrics is not None else []),
        # 3. Hardening headers (CSP, no-store for credentials) on every response, errors included.
        Middleware(SecurityHeadersMiddleware, session_cookie_name=settings.session_cookie_name),
        # 4. Security-sensitive: unknown Host headers are refused before any work is done.
        Middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts),
        # 5. Outside the error guard and the limits, so a browser can read their 4xx/5xx.
        Middleware(
            ProblemCORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
        ),
        # 6. Before anything reads the body.
        Middleware(
            BodySizeLimitMiddleware,
            max_body_bytes=settings.max_request_body_bytes,
            allowances=body_allowances(settings),
        ),
        # 7. Bounds the handler and its dependencies (the DB session included).
        Middleware(RequestTimeoutMiddleware, timeout_seconds=settings.request_timeout_seconds),
        # 8. Innermost safety net: an unhandled exception becomes a problem response that
        #    still passes through every layer above.
        Middleware(ErrorGuardMiddleware),
        # 9. Compresses what the app produced; errors are small and stay uncompressed.
        Middleware(GZipMiddleware, minimum_size=settings.gzip_minimum_size),
        # 10. Next to the app: its empty 204s lose the content headers FastAPI gives them.
        Middleware(NoContentMiddleware),
    ]
