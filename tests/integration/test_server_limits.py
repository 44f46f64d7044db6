"""The real `invoicer serve` bounds what it reads: header size and count, header time, connections.

Raw sockets, because an HTTP client would neither send a half request nor stall on purpose.
"""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import serve_env
from tests.support.network import free_port

pytestmark = pytest.mark.slow

MAX_HEADER_BYTES = 8192
MAX_HEADER_FIELDS = 20
HEADER_TIMEOUT = 1.0
MAX_CONNECTIONS = 6
STARTING_OPEN_FILES = 48
REQUEST = b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self) -> dict[str, object]:
        assert self.headers["content-type"] == "application/problem+json"
        document: dict[str, object] = json.loads(self.body)
        return document


@dataclass(frozen=True)
class LiveServer:
    port: int
    pid: int


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module, started with an open-file limit below what its cap needs."""
    port = free_port()
    env = serve_env(
        tmp_path_factory.mktemp("limits") / "limits.db",
        port,
        LOG_LEVEL="WARNING",
        MAX_REQUEST_HEADER_BYTES=str(MAX_HEADER_BYTES),
        MAX_REQUEST_HEADER_FIELDS=str(MAX_HEADER_FIELDS),
        REQUEST_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
        MAX_CONNECTIONS_PER_WORKER=str(MAX_CONNECTIONS),
    )
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    server = subprocess.Popen(
        serve_with_open_file_limit(STARTING_OPEN_FILES, hard),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not serves(port):
            assert server.poll() is None, server.communicate()[0]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield LiveServer(port=port, pid=server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def port(live_server: LiveServer) -> int:
    return live_server.port


def serve_with_open_file_limit(soft: int, hard: int) -> list[str]:
    """`invoicer serve` in a process whose open-file limit starts at (soft, hard)."""
    lower_then_serve = (
        "import os, resource, sys;"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}));"
        "os.execv(sys.executable, [sys.executable, '-m', 'app.cli', 'serve'])"
    )
    return [sys.executable, "-c", lower_then_serve]


def serves(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/livez", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def connect(port: int, timeout: float = 5) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(sock: socket.socket) -> Response:
    """One response (content-length framed), leaving the connection as the server left it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "closed inside the body"
        body += chunk
    return Response(int(status_line.split(" ")[1]), headers, body)


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed: EOF, or a reset for data it never read."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def request_with_header_block(size: int) -> bytes:
    """A GET whose request line and headers are exactly `size` bytes."""
    start = b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fill: "
    return start + b"a" * (size - len(start) - len(b"\r\n\r\n")) + b"\r\n\r\n"


def test_a_50_mb_header_is_refused_with_431_without_reading_it_all(port: int) -> None:
    total = 50 * 1024 * 1024
    sent = 0
    sock = connect(port)

    def upload() -> None:
        nonlocal sent
        chunk = b"a" * 65536
        try:
            sock.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: ")
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server closed the connection: the point

    uploader = threading.Thread(target=upload, daemon=True)
    uploader.start()
    with sock:
        response = read_response(sock)
        assert response.status == 431
        assert response.headers["connection"] == "close"
        problem = response.problem()
        assert problem["code"] == "request_header_too_large"
        assert problem["status"] == 431
        assert problem["request_id"] == response.headers["x-request-id"]
        assert closed_by_server(sock)
        uploader.join(timeout=5)
    assert not uploader.is_alive()
    # What the kernel buffers on both sides, never the 50 MB.
    assert sent < total / 4
    assert serves(port)


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(request_with_header_block(MAX_HEADER_BYTES + 1), id="one byte over"),
        pytest.param(
            b"GET /livez?" + b"q" * MAX_HEADER_BYTES + b" HTTP/1.1\r\nHost: x\r\n\r\n", id="long URL"
        ),
        pytest.param(
            b"GET /livez HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-F%d: 1\r\n" % index for index in range(MAX_HEADER_FIELDS))
            + b"\r\n",
            id="too many fields",
        ),
    ],
)
def test_headers_over_the_limits_get_431(port: int, request_bytes: bytes) -> None:
    with connect(port) as sock:
        sock.sendall(request_bytes)
        response = read_response(sock)
        assert response.status == 431
        assert response.problem()["code"] == "request_header_too_large"
        assert closed_by_server(sock)


def test_a_refusal_behind_a_pipelined_request_is_not_read_as_its_answer(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(REQUEST + request_with_header_block(MAX_HEADER_BYTES + 1))
        response = read_response(sock)
        assert response.status == 200  # the first request's own answer, then the connection ends
        assert response.headers["connection"] == "close"
        assert closed_by_server(sock)


def test_headers_exactly_at_the_limit_are_served(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(request_with_header_block(MAX_HEADER_BYTES))
        assert read_response(sock).status == 200
        fields = b"".join(b"X-F%d: 1\r\n" % index for index in range(MAX_HEADER_FIELDS - 1))
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        assert read_response(sock).status == 200


@pytest.mark.parametrize(
    "first",
    [pytest.param(b"", id="first request"), pytest.param(REQUEST, id="after a keep-alive request")],
)
def test_headers_that_stall_get_408_after_the_deadline(port: int, first: bytes) -> None:
    with connect(port) as sock:
        if first:
            sock.sendall(first)
            assert read_response(sock).status == 200
        started = time.monotonic()
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow")
        response = read_response(sock)
        waited = time.monotonic() - started
        assert response.status == 408
        assert response.problem()["code"] == "request_header_timeout"
        assert closed_by_server(sock)
    assert HEADER_TIMEOUT * 0.9 <= waited < HEADER_TIMEOUT + 2
    assert serves(port)


def test_a_connection_that_sends_nothing_is_closed_after_the_deadline(port: int) -> None:
    with connect(port) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""  # closed, without an answer to a request never made
        assert HEADER_TIMEOUT * 0.9 <= time.monotonic() - started < HEADER_TIMEOUT + 2


def test_connections_beyond_the_cap_are_refused_while_the_others_are_served(port: int) -> None:
    held = [connect(port) for _ in range(MAX_CONNECTIONS)]
    try:
        for sock in held:
            sock.sendall(REQUEST)
            assert read_response(sock).status == 200
        with connect(port) as extra:
            response = read_response(extra)
            assert response.status == 503
            assert response.problem()["code"] == "service_unavailable"
            assert response.headers["retry-after"] == "1"
            assert closed_by_server(extra)
        for sock in held:  # still open, still answered
            sock.sendall(REQUEST)
            assert read_response(sock).status == 200
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while not serves(port):  # the server notices the closed connections at once
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_serve_refuses_a_connection_cap_the_open_file_limit_cannot_hold(tmp_path: Path) -> None:
    env = serve_env(tmp_path / "refused.db", free_port(), MAX_CONNECTIONS_PER_WORKER="1000")
    result = subprocess.run(
        serve_with_open_file_limit(256, 512), env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2, result.stderr
    assert "MAX_CONNECTIONS_PER_WORKER=1000 needs" in result.stderr
    assert "the hard limit is 512" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_raises_the_soft_open_file_limit_to_hold_the_cap(live_server: LiveServer) -> None:
    soft, _ = resource.prlimit(live_server.pid, resource.RLIMIT_NOFILE)
    # The cap, the database pool (10 + 10) and a reserve of 64.
    assert soft == MAX_CONNECTIONS + 20 + 64 > STARTING_OPEN_FILES
