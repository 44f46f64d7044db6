"""The bare floor of a webhook delivery: consume a RabbitMQ queue and POST each message's body
to one URL with one pooled httpx client; no database, no signing, no retries.

    python -m bench.bare_webhook_consumer AMQP_URL QUEUE URL

Run by bench/webhooks.py as its baseline; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import aio_pika
import httpx


async def consume(broker_url: str, queue_name: str, url: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    connection = await aio_pika.connect_robust(broker_url)
    async with connection, httpx.AsyncClient(timeout=10) as client:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=32)
        queue = await channel.declare_queue(queue_name, durable=True, arguments={"x-queue-type": "quorum"})

        async def deliver(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                await client.post(url, content=message.body, headers={"content-type": "application/json"})

        await queue.consume(deliver)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(consume(*sys.argv[1:4]))
