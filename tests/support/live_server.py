"""The real `invoicer` command in subprocesses: migrate, seed, serve."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx


def serve_env(database: Path, port: int, **settings: str) -> dict[str, str]:
    """The environment of an `invoicer` process on a SQLite file (none of ours leaks in)."""
    inherited = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    return {
        **inherited,
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "PORT": str(port),
        **settings,
    }


def invoicer(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start_server(env: dict[str, str], *options: str, read_output: bool = True) -> subprocess.Popen[str]:
    """`read_output`: the caller reads the output (`communicate()`) once the server stopped.
    Otherwise it goes to a temporary file: a pipe nobody reads blocks the server once full."""
    output: Any = subprocess.PIPE if read_output else tempfile.TemporaryFile()  # noqa: SIM115 - the child holds it
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", *options],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until_ready(url: str, deadline_seconds: float = 30) -> httpx.Response:
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            response = httpx.get(f"{url}/readyz", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("server did not become ready")
        time.sleep(0.2)
