"""The broker: RabbitMQ (taskiq-aio-pika) in the full mode, taskiq's in-memory broker in the
embedded one. It carries wake-ups only; what must be done is in the database."""

from __future__ import annotations

import asyncio
from typing import Any

from taskiq import AsyncBroker, BrokerMessage, InMemoryBroker
from taskiq.exceptions import UnknownTaskError
from taskiq_aio_pika import AioPikaBroker, Exchange, Queue
from taskiq_aio_pika.queue import QueueType

from app.core.config import Settings


class InProcessBroker(InMemoryBroker):
    """taskiq's in-memory broker (a publish starts the task in this process), keeping the
    tasks it started where its owner can wait for them (shutdown, tests)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.running: set[asyncio.Task[Any]] = set()

    async def kick(self, message: BrokerMessage) -> None:
        if self.find_task(message.task_name) is None:
            raise UnknownTaskError(task_name=message.task_name)
        task = asyncio.create_task(self.receiver.callback(message=message.message))
        self.running.add(task)
        task.add_done_callback(self.running.discard)


def create_broker(settings: Settings) -> AsyncBroker:
    if settings.effective_job_runner == "in_process":
        return InProcessBroker(max_async_tasks=settings.worker_concurrency)
    assert settings.broker_url is not None
    name = settings.broker_queue
    return AioPikaBroker(
        settings.broker_url.get_secret_value(),
        exchange=Exchange(name=name),
        # Quorum: replicated and durable; a message survives a broker restart (it is also
        # published persistent, and confirmed before the publisher moves on).
        task_queues=[Queue(name=name, type=QueueType.QUORUM)],
        dead_letter_queue=Queue(name=f"{name}.dead_letter", type=QueueType.QUORUM),
        qos=settings.worker_concurrency,
        # A hung broker must not hang an API request that publishes after its commit.
        timeout=settings.health_check_timeout_seconds * 5,
    )
