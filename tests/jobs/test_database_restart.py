"""Fault drill: PostgreSQL restarts while the API, a worker and the relay run.

On a private cluster (never the shared server): after the restart, the worker's pool and the
relay's LISTEN connection are dead. The worker must turn unready, then recover by itself, and
an event committed after the restart must still reach its webhook, with no worker restarted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy.exc import DBAPIError

from app.core.permissions import Role
from app.db.migrate import upgrade_to_head
from app.main import create_app
from tests.conftest import (
    BROKER_URL,
    TEST_API_ROLE,
    app_database,
    running_app,
    settings_for_test,
    smtp_settings,
)
from tests.support.private_postgres import PrivatePostgres
from tests.support.smtp import MailSink
from tests.support.tenants import Tenant, make_tenant
from tests.support.webhook_receiver import WebhookReceiver, create_endpoint
from tests.support.workers import WorkerProcess, delete_queue, eventually, unique_queue, worker_settings

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
async def queue() -> AsyncIterator[str]:
    name = unique_queue()
    yield name
    await delete_queue(BROKER_URL, name)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver().start()
    yield started
    started.stop()


async def create_customer(client: httpx.AsyncClient, acme: Tenant, name: str) -> bool:
    """True once the API accepted it; a request that met the restart may fail, and is retried."""
    try:
        response = await client.post(
            acme.path("/customers"), headers=acme.auth[Role.OWNER], json={"name": name}
        )
    except DBAPIError:
        return False
    return response.status_code == 201


async def not_ready(worker: WorkerProcess) -> bool:
    return not await worker.ready()


async def test_worker_and_relay_recover_from_a_database_restart(
    postgres: PrivatePostgres, mail: MailSink, queue: str, receiver: WebhookReceiver
) -> None:
    await upgrade_to_head(postgres.admin_url, api_role=TEST_API_ROLE)
    mode = {
        **app_database(postgres.admin_url),
        **smtp_settings(mail),
        "broker_url": BROKER_URL,
        "broker_queue": queue,
        "job_runner": "worker",
        "webhook_allow_private_targets": True,
        "outbox_poll_seconds": 1,
    }
    worker = WorkerProcess(settings_for_test(**worker_settings(**mode)))
    worker.start()
    try:
        async with running_app(create_app(settings_for_test(**mode))) as client:
            await eventually(worker.ready, what="the worker to be ready")
            acme = await make_tenant(client)
            await create_endpoint(client, acme, receiver.url())
            assert await create_customer(client, acme, "Before")
            await eventually(lambda: len(receiver.accepted) == 1, what="the webhook before the restart")

            postgres.stop()
            await eventually(lambda: not_ready(worker), what="readiness to notice the database is gone")
            postgres.start()

            await eventually(
                lambda: create_customer(client, acme, "After"), timeout_seconds=30, what="a commit"
            )
            await eventually(
                lambda: len(receiver.accepted) == 2, timeout_seconds=30, what="the webhook after"
            )
            await eventually(worker.ready, timeout_seconds=30, what="the worker to be ready again")
            assert worker.running
    finally:
        worker.terminate()
    assert any(b'"name":"After"' in message.body for message in receiver.accepted)
