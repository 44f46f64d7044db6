"""Fault drill: RabbitMQ restarts while a worker runs; the worker consumes again by itself.

taskiq-aio-pika has had a bug where a worker silently stopped consuming after a reconnect;
this proves ours does not, on a private broker node restarted mid-test (never the shared one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator

import pytest

from tests.conftest import ClientFactory, app_database, settings_for_test, smtp_settings
from tests.support.accounts import signup
from tests.support.private_rabbitmq import PrivateRabbitMQ
from tests.support.smtp import MailSink
from tests.support.workers import WorkerProcess, eventually, worker_settings

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def rabbitmq() -> Iterator[PrivateRabbitMQ]:
    node = PrivateRabbitMQ()
    node.start()
    try:
        yield node
    finally:
        node.remove()


async def test_the_worker_consumes_again_after_the_broker_restarts(
    make_client: ClientFactory, database_url: str, mail: MailSink, rabbitmq: PrivateRabbitMQ
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a drill of the full mode, which runs on PostgreSQL")
    # A wake-up lost in the restart is published again after 2 s: the drill is about consuming.
    full_mode = {"broker_url": rabbitmq.url, "job_runner": "worker", "job_rewake_after_seconds": 2}
    settings = settings_for_test(
        **app_database(database_url), **smtp_settings(mail), **worker_settings(**full_mode)
    )
    worker = WorkerProcess(settings)
    worker.start()
    try:
        async with make_client(**full_mode) as client:
            await eventually(worker.ready, what="the worker to be ready")
            assert (await signup(client, "before@example.com")).status_code == 202
            await eventually(lambda: mail.to("before@example.com"), what="the email before the restart")

            rabbitmq.stop()
            await eventually(lambda: _not(worker.ready()), what="readiness to notice the broker is gone")
            rabbitmq.start()

            assert (await signup(client, "after@example.com")).status_code == 202
            await eventually(lambda: mail.to("after@example.com"), timeout_seconds=60, what="the email after")
            await eventually(worker.ready, timeout_seconds=30, what="the worker to be ready again")
            assert worker.running, "the worker process exited"
    finally:
        worker.terminate()


async def _not(check: Awaitable[bool]) -> bool:
    return not await check
