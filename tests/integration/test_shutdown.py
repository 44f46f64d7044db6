"""A request in flight when SIGTERM arrives is finished, and so is the work after its response."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.live_server import invoicer, serve_env, start_server, wait_until_ready
from tests.support.network import free_port

pytestmark = pytest.mark.slow

EMAIL = "in-flight@example.com"


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_a_request_in_flight_at_sigterm_is_answered(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "shutdown.db"
    env = serve_env(
        database,
        port,
        SHUTDOWN_DRAIN_SECONDS="0",
        GRACEFUL_SHUTDOWN_TIMEOUT="20",
        EMAIL_TRANSPORT="file",
        MAIL_DIR=str(tmp_path / "mail"),
        LOG_FORMAT="json",
    )
    assert invoicer("migrate", env=env).returncode == 0
    server = start_server(env)
    body = json.dumps(
        {
            "email": EMAIL,
            "password": "a long enough passphrase",
            "full_name": "In Flight",
            "organization_name": "In Flight Ltd",
        }
    ).encode()
    try:
        wait_until_ready(f"http://127.0.0.1:{port}")
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        # Half the body: the request is in flight, its endpoint waiting for the rest.
        client.sendall(
            b"POST /api/v1/auth/signup HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        time.sleep(0.3)
        server.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while not refuses_connections(port):  # the server has stopped accepting: it is shutting down
            assert time.monotonic() < deadline, "the server kept accepting connections after SIGTERM"
            time.sleep(0.1)
        assert server.poll() is None
        client.sendall(body[len(body) // 2 :])
        response = b""
        while chunk := client.recv(65536):  # the server closes the connection after answering
            response += chunk
        client.close()
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
        output = server.communicate(timeout=5)[0]
    status_line, _, rest = response.decode().partition("\r\n")
    assert status_line == "HTTP/1.1 202 Accepted", rest
    assert "connection: close" in rest.lower()  # not kept alive for another request
    assert '"event":"shutdown_complete"' in output
    assert "Traceback" not in output
    # The account is created after the response (sign-up's timing hides which addresses exist):
    # that work finished before the process exited too.
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM users WHERE email = ?", (EMAIL,)).fetchone() == (1,)
    assert any(EMAIL in mail.read_text() for mail in (tmp_path / "mail").iterdir())
