"""The full stack a benchmark runs against: `invoicer serve` (1 worker) on a fresh, seeded
PostgreSQL database with Redis, on a free loopback port; torn down afterwards.

Needs PostgreSQL and Redis on loopback (BENCH_POSTGRES_URL, BENCH_REDIS_URL to override).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# The demo users `seed-demo` creates (app/services/demo.py), all with this password.
DEMO_PASSWORD = "benchmark passphrase 2026"
DEMO_OWNER = "owner@acme.example.com"


@dataclass(frozen=True)
class Stack:
    base_url: str
    pid: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _create_database(name: str) -> str:
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def _drop_database(name: str) -> None:
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


def _wait_until_ready(base_url: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not become ready")


@contextmanager
def seeded_server(*, extra_env: dict[str, str], serve_script: Path | None = None) -> Iterator[Stack]:
    """Migrate and seed a new database, serve it, and drop everything on the way out.

    `serve_script` replaces `invoicer serve` with another script that serves the app.
    """
    name = f"invoicer_bench_{os.getpid()}"
    url = asyncio.run(_create_database(name))
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "DEMO_PASSWORD": DEMO_PASSWORD,
        **extra_env,
    }
    server: subprocess.Popen[bytes] | None = None
    try:
        for command in (["migrate"], ["seed-demo"]):
            subprocess.run(
                [sys.executable, "-m", "app.cli", *command], env=env, check=True, capture_output=True
            )
        serve = (
            [sys.executable, str(serve_script)]
            if serve_script
            else [sys.executable, "-m", "app.cli", "serve"]
        )
        server = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_ready(base_url)
        yield Stack(base_url=base_url, pid=server.pid)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        asyncio.run(_drop_database(name))


def sign_in(base_url: str, email: str = DEMO_OWNER) -> dict[str, str]:
    response = httpx.post(
        f"{base_url}/api/v1/auth/token", data={"username": email, "password": DEMO_PASSWORD}, timeout=10
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


class RssSampler:
    """Samples the server's resident memory (with any children) until stopped."""

    def __init__(self, pid: int, *, interval: float) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.samples: list[tuple[float, int]] = []  # (monotonic time, bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def peak(self) -> int:
        return max((rss for _, rss in self.samples), default=0)

    def _run(self) -> None:
        # Children are listed once: walking the process table 50 times a second would cost
        # more CPU than the work being measured leaves spare.
        processes = [self.process, *self.process.children(recursive=True)]
        while not self._stop.is_set():
            try:
                rss = sum(process.memory_info().rss for process in processes)
            except psutil.Error:
                return
            self.samples.append((time.monotonic(), rss))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
