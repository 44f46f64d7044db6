"""Event → webhook: latency at a fixed event rate, and deliveries per second per worker,
against the same pipeline bare, in one run.

    uv run python bench/webhooks.py [--rate 50] [--duration 60] [--backlog 2000]

The stack (bench/stack.py): `invoicer serve` in the full mode on a seeded PostgreSQL database
and Redis, RabbitMQ on loopback with a queue of the run's own, and one `invoicer worker`
process; the receiver is an HTTP/1.1 server in this process (keep-alive, answers 200 at once)
that stamps each request's arrival.

- **ours**: `POST /customers` at `--rate` per second for `--duration` seconds (open loop: the
  schedule does not wait for responses); each commits a `customer.created` event, which the
  relay publishes, the fan-out turns into a delivery, and the worker signs and POSTs. Latency =
  arrival - the event's own timestamp in the payload (its commit, to the millisecond).
- **bare**: the floor of the same path without our code: this process publishes a message per
  event at the same rate to RabbitMQ (persistent, confirmed), and a bare aio-pika consumer in a
  process of its own (bench/bare_webhook_consumer.py) POSTs each to the receiver with one
  pooled httpx client. Latency = arrival - publish.
- **deliveries/s**: with the worker stopped, `--backlog` events are committed; then a worker
  starts, and the time until the last arrives gives the rate (bare: `--backlog` messages queued
  before its consumer starts).
- The worker's RSS before and after the latency run (goal: flat), and what was lost (goal: 0).

Goal (issue 12): p99 under 1 s at 50 events/s, nothing lost, worker memory flat.
Loopback only; the database and the queue are created for the run and removed after it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aio_pika
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import free_port, seeded_server, sign_in, stack_environment

BROKER_URL = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")


@dataclass
class Receiver:
    """Arrivals by key (the customer's id, or the bare message's number), with their time."""

    port: int = field(default_factory=free_port)
    arrivals: dict[str, float] = field(default_factory=dict)
    sent_at: dict[str, float] = field(default_factory=dict)  # from the payload
    duplicates: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, body: bytes) -> None:
        now = time.time()
        document = json.loads(body)
        if "data" in document:  # ours: Standard Webhooks' {"type", "timestamp", "data"}
            key = document["data"]["id"]
            sent = datetime.fromisoformat(document["timestamp"].replace("Z", "+00:00")).timestamp()
        else:
            key, sent = str(document["n"]), float(document["sent_at"])
        with self._lock:
            if key in self.arrivals:
                self.duplicates += 1
                return
            self.arrivals[key] = now
            self.sent_at[key] = sent

    def latencies(self) -> list[float]:
        with self._lock:
            return [self.arrivals[key] - self.sent_at[key] for key in self.arrivals]

    def count(self) -> int:
        with self._lock:
            return len(self.arrivals)

    def reset(self) -> None:
        with self._lock:
            self.arrivals.clear()
            self.sent_at.clear()
            self.duplicates = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                self.record(await reader.readexactly(length))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @contextmanager
    def serving(self) -> Iterator[Receiver]:
        loop = asyncio.new_event_loop()
        server = loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=1024)
        )
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(server.close)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)


@contextmanager
def worker_process(environment: dict[str, str]) -> Iterator[psutil.Process]:
    port = free_port()
    command = [sys.executable, "-m", "app.cli", "worker"]
    if profile := os.environ.get("BENCH_PROFILE_WORKER"):  # collapsed stacks, for where the time goes
        command = ["py-spy", "record", "--format", "raw", "--rate", "200", "-o", profile, "--", *command]
    process = subprocess.Popen(
        command,
        env={**environment, "WORKER_HEALTH_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the worker did not become ready")
        time.sleep(0.1)
    try:
        yield psutil.Process(process.pid)
    finally:
        # py-spy writes its profile on SIGINT (and passes it on); the worker stops on either.
        process.send_signal(signal.SIGINT if profile else signal.SIGTERM)
        process.wait(timeout=60)


def wait_for(receiver: Receiver, expected: int, *, timeout_seconds: float) -> float:
    """Seconds until `expected` arrivals (or the timeout)."""
    started = time.monotonic()
    while receiver.count() < expected and time.monotonic() - started < timeout_seconds:
        time.sleep(0.01)
    return time.monotonic() - started


async def post_customers(
    base_url: str, headers: dict[str, str], org_id: str, *, rate: float, count: int
) -> int:
    """`count` customers at `rate` per second, open loop; how many were refused."""
    failures = 0
    in_flight = asyncio.Semaphore(32)  # a burst (the backlog) queues here, not in the server
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:

        async def one(index: int) -> None:
            nonlocal failures
            async with in_flight:
                try:
                    response = await client.post(
                        f"/api/v1/orgs/{org_id}/customers", json={"name": f"Bench {index}"}
                    )
                except httpx.TransportError:
                    failures += 1
                    return
            if response.status_code != 201:
                failures += 1

        started = time.monotonic()
        tasks = []
        for index in range(count):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index)))
        await asyncio.gather(*tasks)
    return failures


async def publish_bare(queue: str, *, rate: float, count: int, first: int = 0) -> None:
    connection = await aio_pika.connect(BROKER_URL)
    async with connection:
        channel = await connection.channel()  # publisher confirms on
        await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})
        started = time.monotonic()
        for index in range(first, first + count):
            delay = started + (index - first) / rate - time.monotonic() if rate else 0
            if delay > 0:
                await asyncio.sleep(delay)
            body = json.dumps({"n": index, "sent_at": time.time()}).encode()
            message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await channel.default_exchange.publish(message, routing_key=queue)


@contextmanager
def bare_consumer(queue: str, receiver: Receiver) -> Iterator[None]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.bare_webhook_consumer",
            BROKER_URL,
            queue,
            f"http://127.0.0.1:{receiver.port}/",
        ],
        stdout=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class Row:
    name: str
    latencies: list[float]
    expected: int
    received: int
    duplicates: int
    per_second: float = 0.0  # draining a backlog

    def line(self) -> str:
        p50, p99 = percentile(self.latencies, 0.5) * 1000, percentile(self.latencies, 0.99) * 1000
        cells = [
            self.name,
            f"{self.received}/{self.expected}",
            self.expected - self.received,
            self.duplicates,
        ]
        cells += [f"{p50:.1f}", f"{p99:.1f}", f"{max(self.latencies) * 1000:.1f}", f"{self.per_second:.0f}"]
        return "| " + " | ".join(str(cell) for cell in cells) + " |"


@dataclass
class Memory:
    before: int = 0
    after: int = 0


def run_ours(
    stack_url: str, owner_url: str, receiver: Receiver, full_mode: dict[str, str], args: argparse.Namespace
) -> tuple[Row, Memory]:
    environment = stack_environment(owner_url, full_mode)
    headers = {"Authorization": f"Bearer {sign_in(stack_url)['access_token']}"}
    with httpx.Client(base_url=stack_url, headers=headers, timeout=10) as client:
        orgs = client.get("/api/v1/orgs").json()["items"]
        org_id = next(org["id"] for org in orgs if org["slug"] == "acme")
        hook = {"url": f"http://127.0.0.1:{receiver.port}/hook", "event_types": ["customer.created"]}
        created = client.post(f"/api/v1/orgs/{org_id}/webhook-endpoints", json=hook)
        assert created.status_code == 201, created.text
    count = int(args.rate * args.duration)
    memory = Memory()
    with worker_process(environment) as worker:
        warm = max(int(args.rate * 3), 10)
        asyncio.run(post_customers(stack_url, headers, org_id, rate=args.rate, count=warm))
        wait_for(receiver, warm, timeout_seconds=60)
        receiver.reset()
        memory.before = worker.memory_info().rss
        refused = asyncio.run(post_customers(stack_url, headers, org_id, rate=args.rate, count=count))
        wait_for(receiver, count - refused, timeout_seconds=120)
        memory.after = worker.memory_info().rss
    name = "ours: API commit → relay → fan-out → worker → signed POST"
    row = Row(name, receiver.latencies(), count - refused, receiver.count(), receiver.duplicates)
    # deliveries/s: a backlog committed while no worker runs, then one worker drains it
    receiver.reset()
    asyncio.run(post_customers(stack_url, headers, org_id, rate=1000, count=args.backlog))
    with worker_process(environment):
        drained = wait_for(receiver, args.backlog, timeout_seconds=300)
    row.per_second = receiver.count() / drained
    return row, memory


def run_bare(queue: str, receiver: Receiver, args: argparse.Namespace) -> Row:
    count = int(args.rate * args.duration)
    receiver.reset()
    with bare_consumer(queue, receiver):
        time.sleep(1)
        asyncio.run(publish_bare(queue, rate=args.rate, count=count))
        wait_for(receiver, count, timeout_seconds=60)
    row = Row(
        "bare: publish → aio-pika consumer → POST",
        receiver.latencies(),
        count,
        receiver.count(),
        receiver.duplicates,
    )
    receiver.reset()
    asyncio.run(publish_bare(queue, rate=0, count=args.backlog, first=count))
    with bare_consumer(queue, receiver):
        drained = wait_for(receiver, args.backlog, timeout_seconds=120)
    row.per_second = receiver.count() / drained
    return row


def print_report(ours: Row, bare: Row, memory: Memory, args: argparse.Namespace) -> None:
    runs = f"{ours.expected} events at {args.rate:g}/s for {args.duration} s, one worker"
    print(f"\n{runs}; deliveries/s from a backlog of {args.backlog}\n")
    print("| pipeline | received | lost | duplicates | p50 ms | p99 ms | max ms | backlog deliveries/s |")
    print("|---|---|---|---|---|---|---|---|")
    print(ours.line())
    print(bare.line())
    p99 = percentile(ours.latencies, 0.99)
    p99_ratio = p99 / percentile(bare.latencies, 0.99)
    p50_ratio = statistics.median(ours.latencies) / statistics.median(bare.latencies)
    rate_ratio = ours.per_second / bare.per_second
    print(f"\nours/bare: p50 {p50_ratio:.1f}x, p99 {p99_ratio:.1f}x, deliveries/s {rate_ratio:.2f}")
    print(f"goal: ours p99 < 1000 ms -> {'met' if p99 < 1 else 'NOT met'}")
    mib = 2**20
    before, after = memory.before / mib, memory.after / mib
    print(f"worker RSS: {before:.1f} MiB before, {after:.1f} MiB after ({after - before:+.1f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--backlog", type=int, default=2000)
    args = parser.parse_args()
    queue = f"invoicer-bench-{os.getpid()}"
    receiver = Receiver()
    full_mode = {
        "BROKER_URL": BROKER_URL,
        "BROKER_QUEUE": queue,
        "JOB_RUNNER": "worker",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOK_REQUIRE_HTTPS": "false",
    }
    try:
        with receiver.serving():
            with seeded_server(extra_env=full_mode) as stack:
                ours, memory = run_ours(stack.base_url, stack.owner_database_url, receiver, full_mode, args)
            bare = run_bare(f"{queue}-bare", receiver, args)
    finally:
        asyncio.run(delete_broker_objects(queue))
    print_report(ours, bare, memory, args)


async def delete_broker_objects(queue: str) -> None:
    connection = await aio_pika.connect(BROKER_URL)
    async with connection:
        channel = await connection.channel()
        for name in (queue, f"{queue}.dead_letter", f"{queue}-bare"):
            await channel.queue_delete(name)
        await channel.exchange_delete(queue)


if __name__ == "__main__":
    main()
