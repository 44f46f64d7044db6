"""Workers for tests: `invoicer worker` run in the test's event loop, on a queue of its own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import httpx
from pydantic import SecretStr
from uuid_utils.compat import uuid7

from app.core.config import Settings
from app.tasks.worker import run_worker
from tests.support.network import free_port


def unique_queue() -> str:
    return f"invoicer-test-{uuid7().hex[-12:]}"


async def delete_queue(broker_url: str, queue: str) -> None:
    """The queue, its dead letters and its exchange: what a worker on `queue` declared."""
    connection = await aio_pika.connect(broker_url, timeout=10)
    try:
        channel = await connection.channel()
        for name in (queue, f"{queue}.dead_letter"):
            await channel.queue_delete(name)
        await channel.exchange_delete(queue)
    finally:
        await connection.close()


@asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """A worker until the block ends (then stopped as SIGTERM would)."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, stop=stop))
    try:
        yield task
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=30)


def worker_settings(**overrides: Any) -> dict[str, Any]:
    return {"job_runner": "worker", "worker_health_port": free_port(), **overrides}


async def eventually(check: Callable[[], Any], *, timeout_seconds: float = 15, what: str = "") -> Any:
    """Poll `check` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_seconds} s: {what}")
        await asyncio.sleep(0.05)


async def health(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        return await client.get(path)


def settings_environment(settings: Settings) -> dict[str, str]:
    """`settings` as the environment of another process (what differs from the defaults)."""
    environment: dict[str, str] = {}
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        if name not in settings.model_fields_set and value == field.get_default(call_default_factory=True):
            continue
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        environment[name.upper()] = plain if isinstance(plain, str) else json.dumps(plain, default=str)
    return environment


class WorkerProcess:
    """`invoicer worker` as a real process: SIGKILL it, start another."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.port = settings.worker_health_port or 0
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        inherited = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env={**inherited, "APP_ENV": "test", **settings_environment(self._settings)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def ready(self) -> bool:
        try:
            return (await health(self.port, "/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, leases left held."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def terminate(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None
