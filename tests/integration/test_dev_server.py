"""`invoicer serve --reload` (what `make dev` runs): one reloading process, for development only."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL
from tests.support.live_server import invoicer, serve_env, wait_until_ready
from tests.support.network import free_port

pytestmark = pytest.mark.slow

APP_PACKAGE = Path(__file__).resolve().parents[2] / "app"


def test_reload_serves_the_app_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = serve_env(tmp_path / "dev.db", port, LOG_FORMAT="json")
    assert invoicer("migrate", env=env).returncode == 0
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--reload"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_until_ready(f"http://127.0.0.1:{port}").json()["status"] == "pass"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0
    finally:
        if server.poll() is None:
            server.kill()
        output = server.communicate(timeout=5)[0]
    assert "Will watch for changes in these directories" in output
    assert f"['{APP_PACKAGE}']" in output  # the package's code only, not .venv or var/
    assert '"event":"shutdown_complete"' in output
    assert "Traceback" not in output


def test_reload_is_refused_with_several_workers(tmp_path: Path) -> None:
    """uvicorn's reloader supervises one process: `--reload` with workers is an error, not a guess."""
    env = serve_env(tmp_path / "dev.db", free_port(), REDIS_URL=REDIS_URL)
    result = invoicer("serve", "--reload", "--workers", "2", env=env)
    assert result.returncode == 2
    assert "--reload runs one process" in result.stderr
    assert "Traceback" not in result.stderr
