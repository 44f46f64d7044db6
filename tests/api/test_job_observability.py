"""What an operator sees of the jobs: metrics of attempts, latency and failures on /metrics,
and a webhook request that carries the trace of the change that caused it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest

from app.core.permissions import Role
from tests.conftest import ClientFactory
from tests.support.invoicing import new_customer
from tests.support.otlp import OtlpSink
from tests.support.tenants import make_tenant
from tests.support.webhook_receiver import Answer, WebhookReceiver, create_endpoint
from tests.support.workers import eventually

pytestmark = pytest.mark.anyio

LOOPBACK = {"webhook_allow_private_targets": True, "job_sweep_interval_seconds": 0.05}
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver().start()
    yield started
    started.stop()


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition, 0 when absent."""
    for line in metrics.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if match and dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or "")) == labels:
            return float(match.group(2))
    return 0.0


async def test_job_and_webhook_metrics_count_what_happened(
    make_client: ClientFactory, receiver: WebhookReceiver
) -> None:
    receiver.answer(Answer(status=503))  # the first attempt fails, the retry succeeds
    async with make_client(**LOOPBACK, webhook_retry_schedule_seconds=[0.1]) as client:
        acme = await make_tenant(client)
        await create_endpoint(client, acme, receiver.url())
        await new_customer(client, acme)
        await eventually(lambda: len(receiver.received) == 2, what="the failed attempt and its retry")
        metrics = ""
        for _ in range(100):  # the retry's outcome is recorded just after its answer
            metrics = (await client.get("/metrics")).text
            if sample(metrics, "job_attempts_total", status="succeeded", task="webhooks.deliver"):
                break
            await asyncio.sleep(0.05)
    assert sample(metrics, "job_attempts_total", status="pending", task="webhooks.deliver") == 1
    assert sample(metrics, "job_attempts_total", status="succeeded", task="webhooks.deliver") == 1
    assert (
        sample(metrics, "job_attempts_total", status="succeeded", task="events.fan_out") == 0
    )  # not leased work
    assert sample(metrics, "webhook_delivery_failures_total", reason="5xx") == 1
    assert sample(metrics, "webhook_delivery_latency_seconds_count") == 1
    assert sample(metrics, "job_attempt_duration_seconds_count", task="webhooks.deliver") == 2


async def test_a_webhook_request_carries_the_trace_of_the_change_behind_it(
    make_client: ClientFactory, receiver: WebhookReceiver
) -> None:
    otlp = OtlpSink()
    otlp.start()
    try:
        async with make_client(**LOOPBACK, otel_exporter_otlp_endpoint=otlp.url) as client:
            acme = await make_tenant(client)
            await create_endpoint(client, acme, receiver.url())
            created = await client.post(
                acme.path("/customers"),
                json={"name": "Traced Ltd"},
                headers={**acme.auth[Role.OWNER], "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
            )
            assert created.status_code == 201
            [received] = receiver.wait_for(1)
    finally:
        otlp.stop()
    version, trace_id, parent_id, flags = received.headers["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", CALLER_TRACE, "01")
    spans = {span.span_id: span for span in otlp.spans if span.trace_id == CALLER_TRACE}
    # The receiver's parent is the delivery job's span, itself under the fan-out's, in the trace.
    assert spans[parent_id].name == "job webhooks.deliver"
    fan_out = spans[spans[parent_id].parent_span_id]
    assert fan_out.name == "job events.fan_out"
