"""The full stack a benchmark runs against: `invoicer serve` (1 worker) on a fresh, seeded
PostgreSQL database with Redis, on a free loopback port; torn down afterwards.

As in production, migrations run as the tables' owner (BENCH_POSTGRES_URL's user, as
MIGRATION_DATABASE_URL) and the server connects as its own role that owns nothing
(BENCH_POSTGRES_API_ROLE, created and granted by `invoicer migrate`), so row-level security
binds every tenant query the benchmarks measure.

Needs PostgreSQL and Redis on loopback (BENCH_POSTGRES_URL, BENCH_REDIS_URL to override).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# The PostgreSQL user the server connects as (LOGIN, no password: loopback trust as for the owner).
API_ROLE = os.environ.get("BENCH_POSTGRES_API_ROLE", "invoicer_api_bench")
# The demo users `seed-demo` creates (app/services/demo.py), all with this password.
DEMO_PASSWORD = "benchmark passphrase 2026"
DEMO_OWNER = "owner@acme.example.com"


@dataclass(frozen=True)
class Stack:
    base_url: str
    pid: int
    owner_database_url: str  # the tables' owner: bypasses row-level security


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """The URL as asyncpg takes it (no `+asyncpg` driver suffix)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def api_database_url(owner_url: str) -> str:
    """The same database as `owner_url`, as the API's role."""
    return make_url(owner_url).set(username=API_ROLE, password=None).render_as_string(hide_password=False)


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


# The API rate limits stay on, with their Redis round trips, but never refuse: a benchmark
# measures what they cost, not 429s.
UNREFUSING_RATE_LIMITS = {"RATE_LIMIT_API": "100000000/minute", "RATE_LIMIT_API_ORG": "100000000/minute"}


def stack_environment(owner_url: str, extra_env: dict[str, str]) -> dict[str, str]:
    """The environment of an `invoicer` process of the stack (server, worker) on `owner_url`."""
    return {
        **os.environ,
        **UNREFUSING_RATE_LIMITS,
        "APP_ENV": "test",
        "DATABASE_URL": api_database_url(owner_url),
        "MIGRATION_DATABASE_URL": owner_url,
        "REDIS_URL": REDIS_URL,
        "LOG_LEVEL": "WARNING",
        "DEMO_PASSWORD": DEMO_PASSWORD,
        **extra_env,
    }


@contextmanager
def seeded_database() -> Iterator[str]:
    """A new PostgreSQL database, migrated and holding the demo users; dropped afterwards.

    Yields the owner's URL (api_database_url() gives the API role's).
    """
    name = f"invoicer_bench_{os.getpid()}"
    url = asyncio.run(_create_database(name))
    try:
        for command in (["migrate"], ["seed-demo"]):
            subprocess.run(
                [sys.executable, "-m", "app.cli", *command],
                env=stack_environment(url, {}),
                check=True,
                capture_output=True,
            )
        yield url
    finally:
        asyncio.run(_drop_database(name))


@contextmanager
def seeded_server(*, extra_env: dict[str, str], serve_script: Path | None = None) -> Iterator[Stack]:
    """`invoicer serve` on a seeded database, stopped (and the database dropped) on the way out.

    `serve_script` replaces `invoicer serve` with another script that serves the app.
    """
    port = free_port()
    with seeded_database() as url:
        env = stack_environment(url, {"PORT": str(port), **extra_env})
        serve = [sys.executable, *([str(serve_script)] if serve_script else ["-m", "app.cli", "serve"])]
        server = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_ready(base_url)
            yield Stack(base_url=base_url, pid=server.pid, owner_database_url=url)
        finally:
            server.terminate()
            server.wait(timeout=30)


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


class MachineCpu:
    """CPU seconds used by every process on the machine while the block runs, by program.

    Shows where a request's cost goes: the server, PostgreSQL, Redis, the load generator.
    """

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.by_program: dict[str, float] = {}

    @staticmethod
    def _snapshot() -> dict[int, tuple[str, float]]:
        snapshot = {}
        for process in psutil.process_iter(["name", "cpu_times"]):
            times = process.info["cpu_times"]
            if times is not None:
                snapshot[process.pid] = (process.info["name"] or "?", times.user + times.system)
        return snapshot

    def __enter__(self) -> MachineCpu:
        self._before = self._snapshot()
        self._started = time.monotonic()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall_seconds = time.monotonic() - self._started
        for pid, (name, seconds) in self._snapshot().items():
            used = seconds - self._before.get(pid, (name, 0.0))[1]
            program = {self.server_pid: "server", os.getpid(): "bench"}.get(pid, name)
            self.by_program[program] = self.by_program.get(program, 0.0) + max(used, 0.0)


def run_wrk(
    url: str, *, concurrency: int, duration: int, lua: str = "", headers: dict[str, str] | None = None
) -> str:
    """wrk's report (latency distribution included); `lua` sets the method and body."""
    command = [
        "wrk",
        f"-t{min(2, concurrency)}",
        f"-c{concurrency}",
        f"-d{duration}s",
        "--timeout",
        "30s",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if lua:
        script = Path(tempfile.mkdtemp()) / "request.lua"
        script.write_text(lua)
        command += ["-s", str(script)]
    result = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=duration + 60
    )
    return result.stdout


def requests_per_second(wrk_output: str) -> float:
    match = re.search(r"Requests/sec:\s+([\d.]+)", wrk_output)
    assert match, wrk_output
    return float(match.group(1))


def completed_requests(wrk_output: str) -> int:
    match = re.search(r"(\d+) requests in", wrk_output)
    assert match, wrk_output
    return int(match.group(1))


def latency_percentile(wrk_output: str, percentile: str) -> str:
    match = re.search(rf"^\s+{percentile}%\s+(\S+)\s*$", wrk_output, re.MULTILINE)
    return match.group(1) if match else "n/a"


@contextmanager
def bare_server(script: Path, owner_url: str) -> Iterator[tuple[str, int]]:
    """A bare comparison app (`script`, serving /livez) on a free loopback port, connected as the
    tables' owner through BARE_DATABASE_URL; yields (base URL, pid); stopped afterwards."""
    port = free_port()
    env = {**os.environ, "BARE_DATABASE_URL": asyncpg_dsn(owner_url), "PORT": str(port)}
    # As a module from the repository root, so a bare app can share bench/bare_pool.py.
    process = subprocess.Popen(
        [sys.executable, "-m", f"bench.{script.stem}"],
        cwd=script.resolve().parent.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base_url}/livez", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise SystemExit(f"{script.name} exited at start")
            time.sleep(0.1)
        else:
            raise SystemExit(f"{script.name} did not become ready")
        yield base_url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass(frozen=True)
class Target:
    """One endpoint to drive: a GET, or whatever `lua` makes of the request (method, body)."""

    label: str
    url: str
    pid: int  # the process serving it, whose CPU is counted
    headers: dict[str, str]
    lua: str = ""


@dataclass(frozen=True)
class Measured:
    label: str
    rps: float
    p50: str
    p99: str
    server_ms: float  # CPU of the serving process per request
    postgres_ms: float  # CPU of every PostgreSQL process per request


def measure(target: Target, *, concurrency: int, duration: int, warm_up: int) -> Measured:
    """A warm-up, then `duration` seconds of wrk with the CPU of every process counted."""
    print(f"wrk: {concurrency} connections, {warm_up} s + {duration} s, {target.label} ...", flush=True)
    run_wrk(target.url, concurrency=concurrency, duration=warm_up, lua=target.lua, headers=target.headers)
    with MachineCpu(target.pid) as cpu:
        output = run_wrk(
            target.url, concurrency=concurrency, duration=duration, lua=target.lua, headers=target.headers
        )
    assert "Non-2xx" not in output, output
    completed = completed_requests(output)
    return Measured(
        label=target.label,
        rps=requests_per_second(output),
        p50=latency_percentile(output, "50"),
        p99=latency_percentile(output, "99"),
        server_ms=cpu.by_program.get("server", 0.0) / completed * 1000,
        postgres_ms=cpu.by_program.get("postgres", 0.0) / completed * 1000,
    )


def print_measured(rows: list[Measured]) -> None:
    columns = ("req/s", "p50", "p99", "server CPU", "postgres")
    print(f"{'endpoint':<16}" + "".join(f" {column:>10}" for column in columns))
    for row in rows:
        print(
            f"{row.label:<16} {row.rps:>10.0f} {row.p50:>10} {row.p99:>10}"
            f" {row.server_ms:>7.2f} ms {row.postgres_ms:>7.2f} ms"
        )
    print(
        "(server CPU: the process serving the endpoint — the app, or the bare app's own process;"
        " postgres: every PostgreSQL process on the machine)"
    )


def load_test_arguments(doc: str | None) -> argparse.ArgumentParser:
    """The options every wrk benchmark takes: connections, measured seconds, warm-up."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=int, default=15, help="seconds measured per endpoint")
    parser.add_argument("--warm-up", type=int, default=3, help="seconds of load before each measurement")
    return parser


def wrk_missing() -> bool:
    """True (and says so) when wrk is not installed."""
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return True
    return False
