"""Fault drills of webhook delivery in the full mode: real RabbitMQ, real worker processes.

- A worker SIGKILLed while a delivery is in flight: the delivery completes on another worker
  once the lease expires; one success is recorded, and the receiver, deduplicating by
  `webhook-id`, accepts the message once (it may have seen it twice: at least once).
- The relay crashes after publishing a batch and before marking it: the batch is published
  again, and the fan-out turns the duplicate messages into no duplicate delivery.

Each drill has a queue of its own on the shared broker (deleted after), and runs on PostgreSQL
(the full mode's database).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator

import pytest
from sqlalchemy import func, select

from app.models import Event, WebhookDelivery, WorkStatus
from app.tasks.relay import relay_once
from app.tasks.runtime import JobRuntime
from tests.conftest import BROKER_URL, ClientFactory, app_database, settings_for_test, smtp_settings
from tests.support.invoicing import new_customer
from tests.support.rows import rows_of
from tests.support.smtp import MailSink
from tests.support.tenants import make_tenant
from tests.support.webhook_receiver import Answer, WebhookReceiver, create_endpoint
from tests.support.workers import WorkerProcess, delete_queue, eventually, unique_queue, worker_settings

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
async def queue() -> AsyncIterator[str]:
    name = unique_queue()
    yield name
    await delete_queue(BROKER_URL, name)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


def full_mode(queue: str, **extra: object) -> dict[str, object]:
    return {
        "broker_url": BROKER_URL,
        "broker_queue": queue,
        "job_runner": "worker",
        "webhook_allow_private_targets": True,
        "webhook_require_https": False,
        **extra,
    }


async def delivery_rows(database_url: str) -> list[tuple[WorkStatus, int]]:
    rows = await rows_of(database_url, select(WebhookDelivery.status, WebhookDelivery.attempts))
    return [(row.status, row.attempts) for row in rows]


async def test_a_worker_killed_mid_delivery_leaves_it_to_the_next_worker(
    make_client: ClientFactory, database_url: str, mail: MailSink, queue: str, receiver: WebhookReceiver
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a drill of the full mode, which runs on PostgreSQL")
    mode = full_mode(queue, job_lease_seconds=3, job_sweep_interval_seconds=0.2)
    settings = settings_for_test(
        **app_database(database_url), **smtp_settings(mail), **worker_settings(**mode)
    )
    # The first request is held for long enough to kill the worker while it waits for the answer.
    receiver.answer(Answer(delay=8))
    first = WorkerProcess(settings)
    first.start()
    second = WorkerProcess(settings)
    try:
        async with make_client(**mode) as client:
            await eventually(first.ready, what="the first worker to be ready")
            acme = await make_tenant(client)
            endpoint = await create_endpoint(client, acme, receiver.url())
            receiver.secrets = [endpoint["secret"]]
            await new_customer(client, acme)
            in_flight = [(WorkStatus.RUNNING, 1)]
            await eventually(
                lambda: _equals(delivery_rows(database_url), in_flight), what="an attempt in flight"
            )

            first.kill()  # SIGKILL: no shutdown, the lease stays held
            second.start()
            await eventually(second.ready, what="the second worker to be ready")
            done = [(WorkStatus.SUCCEEDED, 2)]
            await eventually(
                lambda: _equals(delivery_rows(database_url), done), timeout_seconds=30, what="success"
            )
    finally:
        first.kill()
        second.terminate()
    [delivery_id] = [row.id for row in await rows_of(database_url, select(WebhookDelivery.id))]
    assert [message.webhook_id for message in receiver.accepted] == [str(delivery_id)]
    # At least once: the killed attempt may still have reached the receiver, never a third time.
    assert 1 <= len(receiver.received) <= 2
    assert {message.webhook_id for message in receiver.received} == {str(delivery_id)}


async def _equals(
    rows: Awaitable[list[tuple[WorkStatus, int]]], expected: list[tuple[WorkStatus, int]]
) -> bool:
    return await rows == expected


async def test_a_relay_crash_between_publish_and_mark_loses_nothing_and_duplicates_nothing(
    make_client: ClientFactory, database_url: str, mail: MailSink, queue: str, receiver: WebhookReceiver
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a drill of the full mode, which runs on PostgreSQL")
    mode = full_mode(queue)
    settings = settings_for_test(
        **app_database(database_url), **smtp_settings(mail), **worker_settings(**mode)
    )
    async with make_client(**mode) as client:
        # No worker yet: the events wait in the outbox.
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, receiver.url())
        receiver.secrets = [endpoint["secret"]]
        customers = {await new_customer(client, acme, name=f"Customer {n}") for n in range(3)}
        services = client.app.state.services  # type: ignore[attr-defined]
        relay = JobRuntime(services, consume=False, schedule=False).context

        async def crash() -> None:
            raise RuntimeError("the relay's process died here")

        with pytest.raises(RuntimeError, match="died here"):
            await relay_once(relay, after_publish=crash)
        unrelayed = await rows_of(database_url, select(func.count()).where(Event.relayed_at.is_(None)))
        assert unrelayed[0][0] == 3  # published, not marked: they will be published again
        assert await relay_once(relay) == 3  # the restarted relay: a duplicate of each message

        worker = WorkerProcess(settings)
        worker.start()
        try:
            await eventually(lambda: len(receiver.accepted) >= 3, timeout_seconds=30, what="three deliveries")
            await eventually(
                lambda: _equals(delivery_rows(database_url), [(WorkStatus.SUCCEEDED, 1)] * 3),
                what="three deliveries, each sent once",
            )
        finally:
            worker.terminate()
        await relay.http.aclose()
    delivered = {message.body for message in receiver.accepted}
    assert len(delivered) == 3
    assert all(any(customer in body.decode() for body in delivered) for customer in customers)
    assert len(receiver.received) == 3  # no duplicate reached the receiver at all
