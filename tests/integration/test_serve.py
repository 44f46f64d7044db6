"""Smoke test: the real `invoicer serve` in a subprocess, then a graceful, draining stop."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REDIS_URL
from tests.support.live_server import invoicer, serve_env, start_server, wait_until_ready
from tests.support.network import free_port
from tests.support.redis_keys import delete_keys, unique_key_prefix

pytestmark = pytest.mark.slow


def test_serve_answers_then_drains_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = serve_env(tmp_path / "smoke.db", port, SHUTDOWN_DRAIN_SECONDS="1.5", LOG_FORMAT="json")
    migrated = invoicer("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    server = start_server(env)
    base = f"http://127.0.0.1:{port}"
    try:
        ready = wait_until_ready(base)
        assert ready.json()["status"] == "pass"
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
        # We are the trusted proxy (FORWARDED_ALLOW_IPS=127.0.0.1): uvicorn takes the scheme
        # and client from X-Forwarded-*, so HSTS is sent and the real client is logged.
        proxied = httpx.get(
            f"{base}/livez",
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"},
            timeout=5,
        )
        assert proxied.headers["strict-transport-security"].startswith("max-age=")

        server.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        draining = httpx.get(f"{base}/readyz", timeout=2)
        assert draining.status_code == 503
        assert draining.json()["output"] == "shutting down"
        assert httpx.get(f"{base}/livez", timeout=2).status_code == 200  # still serving

        # uvicorn re-raises the captured SIGTERM after its graceful shutdown, as a process
        # killed by that signal would report; the log shows the shutdown completed.
        assert server.wait(timeout=20) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
        output = server.communicate(timeout=5)[0]
    assert '"event":"shutdown_draining"' in output
    assert '"event":"shutdown_complete"' in output
    assert '"logger":"invoicer.access"' in output
    assert '"client":"203.0.113.7"' in output
    assert "Traceback" not in output


def test_serve_refuses_unsafe_production_settings(tmp_path: Path) -> None:
    env = {**os.environ, "APP_ENV": "prod", "DEBUG": "true"}
    env.pop("SECRET_KEY", None)
    result = invoicer("serve", env=env)
    assert result.returncode == 2
    assert "refuses to start" in result.stderr
    assert "DEBUG is on" in result.stderr
    assert "Traceback" not in result.stderr


def test_metrics_add_up_across_worker_processes(tmp_path: Path) -> None:
    """With --workers 2 a scrape reaches one worker, and still counts every worker's requests."""
    port = free_port()
    # Several workers need Redis (revocations and rate limits shared by every process).
    prefix = unique_key_prefix()
    env = serve_env(
        tmp_path / "workers.db",
        port,
        WORKERS="2",
        LOG_LEVEL="WARNING",
        REDIS_URL=REDIS_URL,
        REDIS_KEY_PREFIX=prefix,
    )
    assert invoicer("migrate", env=env).returncode == 0
    server = start_server(env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base)
        for _ in range(30):  # a new connection each time, so both workers take some
            assert httpx.get(f"{base}/livez", timeout=5).status_code == 200
        counts = set()
        for _ in range(6):
            scraped = httpx.get(f"{base}/metrics", timeout=5).text
            [line] = [
                line
                for line in scraped.splitlines()
                if line.startswith("http_requests_total{") and 'route="/livez"' in line
            ]
            counts.add(float(line.rsplit(" ", 1)[1]))
        assert counts == {30.0}
    finally:
        server.terminate()
        server.wait(timeout=30)
        asyncio.run(delete_keys(REDIS_URL, prefix))
