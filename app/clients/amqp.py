"""Broker reachability for the readiness probe: an AMQP handshake with a deadline."""

from __future__ import annotations

import aio_pika


async def ping_broker(url: str, *, timeout_seconds: float) -> None:
    """Raise unless a connection to the broker can be opened and closed in time."""
    connection = await aio_pika.connect(url, timeout=timeout_seconds)
    await connection.close()
