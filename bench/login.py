"""Login under load vs. the raw argon2id verify rate of this machine, measured in the same run.

    uv run python bench/login.py [--concurrency 64] [--duration 15]

Full stack: `invoicer serve` (1 worker) on a fresh PostgreSQL database with Redis for rate
limits and revocation; wrk drives POST /api/v1/auth/token with 64 connections. Prints:
- raw rate: argon2id verifies/s with the app's parameters on PASSWORD_HASH_CONCURRENCY threads
  (the most any login endpoint on this machine could do);
- login req/s and latency percentiles (wrk), and their ratio to the raw rate;
- CPU per login of every busy program on the machine (server, PostgreSQL, Redis, wrk), so the
  gap between the ratio and 1 is accounted for;
- peak RSS of the server process, sampled every 20 ms;
- one sign-in's latency while idle, and GET /users/me latency while idle and during the burst.
Needs wrk (Debian package `wrk`), PostgreSQL and Redis on loopback; stops by itself.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core.config import load_settings
from bench.stack import (
    DEMO_OWNER,
    DEMO_PASSWORD,
    MachineCpu,
    RssSampler,
    completed_requests,
    latency_percentile,
    requests_per_second,
    run_wrk,
    seeded_server,
    sign_in,
)

PROBE_ACCOUNT = "admin@acme.example.com"


def raw_verify_rate(seconds: float, threads: int) -> float:
    """argon2id verifies/s, app parameters, `threads` at once (argon2-cffi releases the GIL)."""
    settings = load_settings(app_env="test")
    hasher = PasswordHash(
        (
            Argon2Hasher(
                memory_cost=settings.password_hash_memory_kib,
                time_cost=settings.password_hash_time_cost,
                parallelism=settings.password_hash_parallelism,
            ),
        )
    )
    stored = hasher.hash(DEMO_PASSWORD)
    deadline = time.perf_counter() + seconds
    counts = [0] * threads

    def worker(index: int) -> None:
        while time.perf_counter() < deadline:
            hasher.verify(DEMO_PASSWORD, stored)
            counts[index] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return sum(counts) / (time.perf_counter() - started)


class Prober:
    """Times GET /users/me every 250 ms: does the rest of the API stay responsive meanwhile?"""

    def __init__(self, base: str, access_token: str) -> None:
        self._client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {access_token}"})
        self.latencies_ms: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            response = self._client.get("/api/v1/users/me", timeout=30)
            assert response.status_code == 200, response.text
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
            self._stop.wait(0.25)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._client.close()

    def percentiles(self) -> str:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return "n/a"
        p50 = ordered[len(ordered) // 2]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return f"{p50:.1f} / {p99:.1f} ms ({len(ordered)} probes)"


def run_login_wrk(url: str, *, concurrency: int, duration: int) -> str:
    body = f"username={DEMO_OWNER.replace('@', '%40')}&password={DEMO_PASSWORD.replace(' ', '+')}"
    return run_wrk(
        url,
        concurrency=concurrency,
        duration=duration,
        lua=(
            'wrk.method = "POST"\n'
            f'wrk.body = "{body}"\n'
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        ),
    )


def print_report(
    output: str,
    *,
    raw_before: float,
    raw_after: float,
    threads: int,
    machine_cpu: MachineCpu,
    idle_rss: int,
    peak_rss: int,
) -> None:
    raw = (raw_before + raw_after) / 2
    rps = requests_per_second(output)
    completed = completed_requests(output)
    cpu_per_login_ms = machine_cpu.by_program.get("server", 0.0) / completed * 1000
    hash_cpu_ms = threads / raw * 1000  # one verify's CPU time, from the raw run
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    print(output)
    print("=== login benchmark ===")
    print(f"hash concurrency             {threads:8d}  (PASSWORD_HASH_CONCURRENCY)")
    print(f"raw argon2id verifies/s      {raw:8.1f}  (before {raw_before:.1f}, after {raw_after:.1f})")
    print(f"login requests/s             {rps:8.1f}")
    print(f"ratio login/raw              {rps / raw:8.2f}   (goal >= 0.90)")
    p50, p99 = latency_percentile(output, "50"), latency_percentile(output, "99")
    print(f"latency p50 / p99            {p50} / {p99}")
    print(f"non-2xx responses            {errors.group(1) if errors else 0}")
    print(
        f"server CPU per login         {cpu_per_login_ms:8.1f} ms  "
        f"(argon2id alone ~{hash_cpu_ms:.1f} ms; the rest is HTTP, SQL, Redis, JWT)"
    )
    busiest = sorted(machine_cpu.by_program.items(), key=lambda item: -item[1])[:5]
    print(
        "machine CPU per login        "
        + ", ".join(f"{program} {seconds / completed * 1000:.1f} ms" for program, seconds in busiest)
        + f"  ({len(os.sched_getaffinity(0))} cores x {machine_cpu.wall_seconds:.0f} s"
        + f" = {len(os.sched_getaffinity(0)) * machine_cpu.wall_seconds / completed * 1000:.1f} ms per login)"
    )
    print(
        f"server RSS idle / peak       {idle_rss / 2**20:.0f} MiB / {peak_rss / 2**20:.0f} MiB"
        "   (goal <= 350 MB)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument(
        "--without-hashing",
        action="store_true",
        help="serve with an instant password check: the rate then measures the non-hash work alone",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2

    settings = load_settings(app_env="test")
    threads = settings.effective_password_hash_concurrency
    print(
        f"argon2id m={settings.password_hash_memory_kib} KiB, t={settings.password_hash_time_cost}, "
        f"p={settings.password_hash_parallelism}; GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '')!r}"
    )
    print(f"raw argon2id verify rate ({threads} threads, 5 s)...", flush=True)
    raw_before = raw_verify_rate(5, threads)

    limits_off = {  # measure hashing, not the limiter's refusals (one account signs in 64 at once)
        "RATE_LIMIT_LOGIN": "1000000/minute",
        "RATE_LIMIT_LOGIN_FAILURES_PER_IP": "1000000/minute",
        "RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT": "1000000/minute",
    }
    serve_script = Path(__file__).with_name("serve_without_hashing.py") if args.without_hashing else None
    with seeded_server(extra_env=limits_off, serve_script=serve_script) as stack:
        base = stack.base_url
        # Another account than the one signing in: past MAX_SESSIONS_PER_USER every sign-in ends
        # that account's least recently used session (work the benchmark measures), which
        # would soon be the probe's.
        access_token = sign_in(base, PROBE_ACCOUNT)["access_token"]
        # One client signing in again and again: what a user waits when nobody else is.
        idle_logins = run_login_wrk(f"{base}/api/v1/auth/token", concurrency=1, duration=3)
        idle_rss = psutil.Process(stack.pid).memory_info().rss

        print(
            f"wrk: {args.concurrency} connections, {args.duration} s, POST /api/v1/auth/token ...", flush=True
        )
        with Prober(base, access_token) as idle_probe:
            time.sleep(3)
        with (
            RssSampler(stack.pid, interval=0.02) as rss,
            MachineCpu(stack.pid) as machine_cpu,
            Prober(base, access_token) as busy_probe,
        ):
            output = run_login_wrk(
                f"{base}/api/v1/auth/token", concurrency=args.concurrency, duration=args.duration
            )

    raw_after = raw_verify_rate(5, threads)
    print_report(
        output,
        raw_before=raw_before,
        raw_after=raw_after,
        threads=threads,
        machine_cpu=machine_cpu,
        idle_rss=idle_rss,
        peak_rss=rss.peak,
    )
    if args.without_hashing:
        print("(--without-hashing: req/s is the ceiling set by the non-hash work; ignore the ratio)")
    print(f"one sign-in while idle       {latency_percentile(idle_logins, '50')} (p50, one client for 3 s)")
    print(f"GET /users/me while idle     {idle_probe.percentiles()}")
    print(f"GET /users/me during logins   {busy_probe.percentiles()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
