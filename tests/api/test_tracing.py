"""Traces: a span per request, continuing the caller's trace, with SQL and Redis spans beneath,
exported over OTLP/HTTP to a real receiver; the logs carry the same trace id."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import REDIS_URL, ClientFactory
from tests.support.accounts import PASSWORD, bearer
from tests.support.factories import account_with_tokens
from tests.support.logs import json_log_lines
from tests.support.otlp import OtlpSink
from tests.support.smtp import MailSink

pytestmark = pytest.mark.anyio

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def otlp() -> Iterator[OtlpSink]:
    sink = OtlpSink()
    sink.start()
    yield sink
    sink.stop()


async def test_a_request_span_continues_the_callers_trace_with_sql_and_redis_beneath(
    make_client: ClientFactory, otlp: OtlpSink, capfd: pytest.CaptureFixture[str]
) -> None:
    traced = "traced@example.com"
    async with make_client(
        otel_exporter_otlp_endpoint=otlp.url, redis_url=REDIS_URL, log_level="INFO", log_format="json"
    ) as client:
        tokens = await account_with_tokens(client, traced)
        capfd.readouterr()
        response = await client.get(
            "/api/v1/users/me",
            headers={**bearer(tokens["access_token"]), "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
        )
        assert response.status_code == 200
        logs = json_log_lines(capfd)
        assert (await client.get("/livez")).status_code == 200
    # Leaving the app flushed its spans to the receiver.
    in_trace = [span for span in otlp.spans if span.trace_id == CALLER_TRACE]
    [server] = [span for span in in_trace if span.parent_span_id == CALLER_SPAN]
    assert server.name == "GET /api/v1/users/me"
    assert server.attributes["http.route"] == "/api/v1/users/me"
    assert server.service == "invoicer"
    children = [span for span in in_trace if span.parent_span_id == server.span_id]
    systems = [span.attributes.get("db.system") for span in children]
    assert systems.count("redis") == 2  # the revocation check and the caller's rate limit
    assert {"sqlite", "postgresql"} & set(systems)  # the user and their memberships
    statements = [str(span.attributes.get("db.statement", "")) for span in children]
    assert not [text for text in statements if traced in text]  # no bound values
    # Every log line of the request names the trace.
    access = [line for line in logs if line.get("logger") == "invoicer.access"]
    assert [line["trace_id"] for line in access] == [CALLER_TRACE]
    # Probes make no traces.
    assert not [span for span in otlp.spans if "/livez" in span.name]


async def test_without_a_caller_each_request_starts_its_own_trace(
    make_client: ClientFactory, otlp: OtlpSink
) -> None:
    async with make_client(otel_exporter_otlp_endpoint=otlp.url) as client:
        for _ in range(2):
            assert (await client.get("/api/v1/users/me")).status_code == 401
    servers = [span for span in otlp.spans if span.name == "GET /api/v1/users/me"]
    assert len(servers) == 2
    assert servers[0].trace_id != servers[1].trace_id
    assert all(span.parent_span_id == "" for span in servers)


async def test_tracing_is_off_without_an_endpoint(make_client: ClientFactory, otlp: OtlpSink) -> None:
    async with make_client() as client:
        assert client.app.state.tracer_provider is None  # type: ignore[attr-defined]
        assert (await client.get("/api/v1/users/me")).status_code == 401
    assert otlp.spans == []


async def test_a_job_continues_the_trace_of_the_request_that_queued_it(
    make_client: ClientFactory, otlp: OtlpSink, mail: MailSink
) -> None:
    """The password-changed notice is a durable job: its span joins the request's trace."""
    async with make_client(otel_exporter_otlp_endpoint=otlp.url) as client:
        tokens = await account_with_tokens(client, "noticed@example.com")
        response = await client.post(
            "/api/v1/users/me/password",
            json={"current_password": PASSWORD, "new_password": "a brand new passphrase 2026"},
            headers={**bearer(tokens["access_token"]), "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
        )
        assert response.status_code == 204
        assert mail.last_to("noticed@example.com").subject == "Your Invoicer password was changed"
    in_trace = {span.span_id: span for span in otlp.spans if span.trace_id == CALLER_TRACE}
    [server] = [span for span in in_trace.values() if span.parent_span_id == CALLER_SPAN]
    [job] = [span for span in in_trace.values() if span.name == "job emails.send"]
    assert job.attributes["job.task"] == "emails.send"
    # The job's parent is a span of the request (its commit's), so it hangs under the request.
    ancestor = in_trace.get(job.parent_span_id)
    while ancestor is not None and ancestor.span_id != server.span_id:
        ancestor = in_trace.get(ancestor.parent_span_id)
    assert ancestor is server
