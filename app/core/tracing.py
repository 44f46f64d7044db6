"""OpenTelemetry traces: a span per request, with child spans for each SQL statement and
Redis command, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Each app owns its tracer provider (nothing global), so apps and tests never share spans.
An incoming W3C `traceparent` makes our spans part of the caller's trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app import __version__
from app.core.config import Settings


def create_tracer_provider(settings: Settings) -> TracerProvider | None:
    """None (tracing off) unless an OTLP endpoint is configured."""
    endpoint = settings.otel_exporter_otlp_endpoint
    if endpoint is None:
        return None
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": settings.otel_service_name,
                "service.version": __version__,
                "deployment.environment.name": settings.app_env,
            }
        ),
        # Follow the caller's decision when there is one, else keep this share of traces.
        sampler=ParentBased(TraceIdRatioBased(settings.otel_traces_sample_ratio)),
    )
    exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces", timeout=5)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def trace_database(engine: AsyncEngine, provider: TracerProvider) -> None:
    """A span per statement, under the request's span (the instrumentation's engine hook)."""
    tracer = provider.get_tracer("invoicer.db", __version__)
    connections = NoOpMeterProvider().get_meter("invoicer.db").create_up_down_counter("unused")
    EngineTracer(tracer, engine.sync_engine, connections)  # type: ignore[no-untyped-call]


def trace_redis(client: Redis, provider: TracerProvider) -> None:
    """A span per Redis command sent through this client."""
    RedisInstrumentor.instrument_client(client, tracer_provider=provider)


def name_request_span(*, method: str, route: str) -> None:
    """Once routing is done: `GET /api/v1/users/{user_id}`, not the raw, unbounded path."""
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


# Where the ASGI instrumentation records a request's query string (by semantic conventions
# version): the full URL, and the query alone.
_URL_ATTRIBUTES = ("http.url", "url.full")
_QUERY_ATTRIBUTE = "url.query"


def drop_query_string(span: Span, scope: dict[str, Any]) -> None:
    """No query string reaches the trace store: the links we email carry one-time tokens there
    (/verify-email?token=...), and a span is kept longer and seen by more people than the
    request. The route and the path remain."""
    attributes = getattr(span, "attributes", None)
    if not scope.get("query_string") or not span.is_recording() or not attributes:
        return
    for name in _URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            span.set_attribute(name, value.split("?", 1)[0])
    if _QUERY_ATTRIBUTE in attributes:
        span.set_attribute(_QUERY_ATTRIBUTE, "REDACTED")


def request_span_details(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The span's first name: the method alone, until the route is known."""
    return str(scope.get("method", "HTTP")), {}


_PROPAGATOR = TraceContextTextMapPropagator()


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, to carry the trace into a job."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def continued_trace(
    provider: TracerProvider | None, name: str, *, traceparent: str | None, attributes: dict[str, str]
) -> Iterator[None]:
    """Run a job as part of the trace that caused it: a CONSUMER span whose parent is
    `traceparent` (from the message or the event). Without a tracer provider the caller's
    context is still made current, so outbound requests pass the same trace on."""
    parent = _PROPAGATOR.extract({"traceparent": traceparent}) if traceparent else None
    if provider is None:
        token = otel_context.attach(parent) if parent is not None else None
        try:
            yield
        finally:
            if token is not None:
                otel_context.detach(token)
        return
    tracer = provider.get_tracer("invoicer.jobs", __version__)
    with tracer.start_as_current_span(name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes):
        yield
