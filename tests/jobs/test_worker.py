"""`invoicer worker` on RabbitMQ: the API publishes, a worker process's loop runs the job.

Each test has a queue of its own on the shared broker, deleted at the end; the worker runs in
the test's event loop (run_worker, the command's own entry point) so its effects are awaited
directly. Fault drills that restart the broker use a private node (test_broker_restart.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import httpx
import pytest
from sqlalchemy import select

from app.models import Event, Job, WebhookDelivery, WorkStatus
from app.tasks.runtime import JobRuntime
from app.tasks.webhooks import fan_out_event
from tests.conftest import BROKER_URL, ClientFactory, app_database, settings_for_test, smtp_settings
from tests.support.accounts import signup
from tests.support.invoicing import new_customer
from tests.support.rows import rows_of
from tests.support.smtp import MailSink
from tests.support.tenants import make_tenant
from tests.support.webhook_receiver import create_endpoint
from tests.support.workers import (
    delete_queue,
    eventually,
    health,
    running_worker,
    unique_queue,
    worker_settings,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def queue() -> AsyncIterator[str]:
    name = unique_queue()
    yield name
    await delete_queue(BROKER_URL, name)


async def test_an_email_queued_by_the_api_is_sent_by_a_worker(
    make_client: ClientFactory, database_url: str, mail: MailSink, queue: str
) -> None:
    full_mode = {"broker_url": BROKER_URL, "broker_queue": queue, "job_runner": "worker"}
    settings = settings_for_test(
        **app_database(database_url), **smtp_settings(mail), **worker_settings(**full_mode)
    )
    async with make_client(**full_mode) as client:
        # The API alone: the mail waits, durable, in the database.
        assert (await signup(client, "queued@example.com")).status_code == 202
        assert mail.to("queued@example.com") == []
        async with running_worker(settings):
            message = await eventually(lambda: mail.to("queued@example.com"), what="the verification email")
            assert "verify-email?token=" in message[-1].body
            port = settings.worker_health_port
            assert port is not None
            assert (await health(port, "/livez")).status_code == 200
            ready = await eventually(lambda: _ready(port), what="the worker to be ready")
            assert ready
            scraped = (await health(port, "/metrics")).text
            assert 'job_attempts_total{status="succeeded",task="emails.send"} 1.0' in scraped
    jobs = await rows_of(database_url, select(Job.status, Job.attempts))
    assert [(row.status, row.attempts) for row in jobs] == [(WorkStatus.SUCCEEDED, 1)]


async def _ready(port: int) -> bool:
    try:
        return (await health(port, "/readyz")).status_code == 200
    except httpx.ConnectError:
        return False  # not listening yet


async def test_a_message_that_is_not_a_task_is_dropped_and_the_worker_goes_on(
    make_client: ClientFactory, database_url: str, mail: MailSink, queue: str
) -> None:
    full_mode = {"broker_url": BROKER_URL, "broker_queue": queue, "job_runner": "worker"}
    settings = settings_for_test(
        **app_database(database_url), **smtp_settings(mail), **worker_settings(**full_mode)
    )
    async with running_worker(settings) as worker, make_client(**full_mode) as client:
        await eventually(lambda: _ready(settings.worker_health_port or 0), what="the worker to be ready")
        connection = await aio_pika.connect(BROKER_URL)
        async with connection:
            channel = await connection.channel()
            for poison in (b"\xff\xfe not json", b'{"task_name": "emails.send", "args": ["not-a-uuid"]}'):
                await channel.default_exchange.publish(aio_pika.Message(poison), routing_key=queue)
        assert (await signup(client, "after-poison@example.com")).status_code == 202
        await eventually(lambda: mail.to("after-poison@example.com"), what="the email after the poison")
        assert not worker.done()


async def test_an_endpoint_hears_only_of_events_after_it_was_registered(
    make_client: ClientFactory, database_url: str, queue: str
) -> None:
    """The relay may pass events on late (no worker ran yet): an endpoint registered meanwhile
    still gets only what happened after it existed."""
    full_mode = {"broker_url": BROKER_URL, "broker_queue": queue, "job_runner": "worker"}
    async with make_client(**full_mode, webhook_allow_private_targets=True) as client:
        acme = await make_tenant(client)
        await new_customer(client, acme, name="Before")
        await create_endpoint(client, acme, "http://127.0.0.1:9/hooks")
        await new_customer(client, acme, name="After")
        context = JobRuntime(client.app.state.services, consume=False, schedule=False).context  # type: ignore[attr-defined]
        events = await rows_of(database_url, select(Event.id).order_by(Event.id))
        for event in events:
            await fan_out_event(context, event.id)
        await context.http.aclose()
    deliveries = await rows_of(database_url, select(WebhookDelivery.event_id))
    after = await rows_of(database_url, select(Event.id).where(Event.data["name"].as_string() == "After"))
    assert [row.event_id for row in deliveries] == [after[0].id]
