"""What the bounded HTTP protocol (app/server.py) costs, against uvicorn's own in the same run.

    uv run python bench/server_limits.py [--rounds 3] [--duration 10] [--with-h11]

`invoicer serve` (1 worker, the embedded SQLite default) twice: as shipped, and with uvicorn's
stock httptools protocol (everything else identical); `--with-h11` adds uvicorn's h11
protocol. wrk drives `GET /livez` (-t2 -c32) on each in turn, alternating, so drift on a shared
machine hits every configuration alike. Prints req/s per run, the median, and each median's
ratio to the stock protocol's; also the server's CPU time per request, steadier than req/s when
other work shares the cores. Then 200 connections send half a request line and stall: it
counts how many each server still holds after its header deadline. Loopback only.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import psutil

from bench.stack import completed_requests, free_port, requests_per_second, run_wrk

HEADER_TIMEOUT_SECONDS = 2
STALLED_CONNECTIONS = 200


def serve_with(protocol: str) -> None:
    """`invoicer serve`, with uvicorn's `protocol` in place of app/server.py's."""
    import app.server
    from app.cli import main

    bounded = app.server.uvicorn_options
    app.server.uvicorn_options = lambda settings: {**bounded(settings), "http": protocol}
    sys.argv = ["invoicer", "serve"]
    main()


@contextmanager
def server(env: dict[str, str], protocol: str | None) -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    command = [sys.executable, "-m", "app.cli", "serve"]
    if protocol:
        command = [sys.executable, "-m", "bench.server_limits", "--serve", protocol]
    process = subprocess.Popen(
        command, env={**env, "PORT": str(port)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base_url}/livez", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"{command} did not start")
        yield base_url, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def still_open(sockets: list[socket.socket]) -> int:
    """How many of these connections the server has not closed (nor answered)."""
    count = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            if sock.recv(1):  # an answer (408): the server is closing it
                continue
        except BlockingIOError:
            count += 1  # nothing to read and no EOF: held open
        except OSError:
            pass
    return count


def stalled_connections_held(base_url: str) -> int:
    port = int(base_url.rsplit(":", 1)[1])
    sockets = []
    try:
        for _ in range(STALLED_CONNECTIONS):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Sl")
            sockets.append(sock)
        time.sleep(HEADER_TIMEOUT_SECONDS + 1)
        return still_open(sockets)
    finally:
        for sock in sockets:
            sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--with-h11", action="store_true")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_with(args.serve)
        return 0

    configurations: dict[str, str | None] = {"stock httptools": "httptools", "bounded (ours)": None}
    if args.with_h11:
        configurations["stock h11"] = "h11"
    with tempfile.TemporaryDirectory() as directory, ExitStack() as stack:
        env = {
            **{key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"},
            "APP_ENV": "test",
            "DATABASE_URL": f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}",
            "LOG_LEVEL": "WARNING",
            "REQUEST_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_SECONDS),
        }
        subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, check=True, capture_output=True)
        servers = {
            name: stack.enter_context(server(env, protocol)) for name, protocol in configurations.items()
        }
        for url, _ in servers.values():
            run_wrk(f"{url}/livez", concurrency=args.concurrency, duration=2)  # warm
        rates: dict[str, list[float]] = {name: [] for name in servers}
        cpu: dict[str, list[float]] = {name: [] for name in servers}
        for round_number in range(args.rounds):
            order = list(servers) if round_number % 2 == 0 else list(reversed(servers))
            for name in order:
                url, process = servers[name]
                before = sum(process.cpu_times()[:2])
                output = run_wrk(f"{url}/livez", concurrency=args.concurrency, duration=args.duration)
                used = sum(process.cpu_times()[:2]) - before
                assert "Non-2xx" not in output, output
                rates[name].append(requests_per_second(output))
                cpu[name].append(used / completed_requests(output) * 1e6)
                print(
                    f"round {round_number + 1}: {name:<16} {rates[name][-1]:>8.0f} req/s"
                    f" {cpu[name][-1]:>6.0f} us CPU/request",
                    flush=True,
                )
        held = {name: stalled_connections_held(url) for name, (url, _) in servers.items()}

    baseline = statistics.median(rates["stock httptools"])
    cpu_baseline = statistics.median(cpu["stock httptools"])
    print(f"\n=== GET /livez, wrk -t2 -c{args.concurrency} -d{args.duration}s, {args.rounds} rounds ===")
    print(
        f"{'protocol':<18} {'runs (req/s)':<30} {'median':>7} {'vs stock':>8}"
        f" {'CPU/req':>8} {'vs stock':>8} {'stalled held':>13}"
    )
    for name, values in rates.items():
        median = statistics.median(values)
        cpu_median = statistics.median(cpu[name])
        runs = ", ".join(f"{value:.0f}" for value in values)
        print(
            f"{name:<18} {runs:<30} {median:>7.0f} {median / baseline:>8.3f}"
            f" {cpu_median:>5.0f} us {cpu_median / cpu_baseline:>8.3f} {held[name]:>6}/{STALLED_CONNECTIONS}"
        )
    print(f"(stalled: half-sent headers, counted {HEADER_TIMEOUT_SECONDS + 1} s after connecting)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
