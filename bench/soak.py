"""Soak: steady, mixed, authenticated traffic for a bounded time. Does latency or memory drift?

    uv run python bench/soak.py [--users 20] [--duration 120] [--pacing 0.25]

Full stack (bench/stack.py): `invoicer serve` (1 worker) on PostgreSQL + Redis. Locust runs
bench/locustfile.py headless in its own process: each user signs in once, then every
`--pacing` seconds reads its account or sessions, edits its profile, rotates its refresh
token, or calls GET /livez. The first 10 s (sign-ins, warm-up) are left out. Prints:
- per endpoint: requests, failures, p50 / p95 / p99 (ms), and p95 relative to GET /livez
  measured in the same run (the framework alone: what auth, SQL and Redis add);
- drift: each endpoint's p95 in the last third of the run against the first third;
- server RSS after warm-up and at the end, and its growth per minute.
Loopback only; stops by itself after --duration seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from bench.stack import DEMO_PASSWORD, RssSampler, seeded_server

WARM_UP_SECONDS = 10.0
BASELINE = "GET /livez"


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


def run_locust(base_url: str, *, users: int, duration: int, pacing: float, records: Path) -> None:
    env = {
        **os.environ,
        "SOAK_RECORDS": str(records),
        "SOAK_PASSWORD": DEMO_PASSWORD,
        "SOAK_PACING_SECONDS": str(pacing),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(Path(__file__).with_name("locustfile.py")),
            "--headless",
            "--only-summary",
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{duration}s",
            "--stop-timeout",
            "5",
            "--host",
            base_url,
        ],
        env=env,
        check=False,
        timeout=duration + 120,
        capture_output=True,
        text=True,
    )
    if result.returncode not in (0, 1):  # 1: some request failed, which the report shows
        raise SystemExit(f"locust failed:\n{result.stderr[-3000:]}")


def load_records(path: Path) -> list[tuple[float, str, float, bool]]:
    with path.open() as lines:
        return [tuple(json.loads(line)) for line in lines]


def report(records: list[tuple[float, str, float, bool]], rss: RssSampler, *, users: int) -> None:
    started = min(start for start, *_ in records)
    ended = max(start for start, *_ in records)
    steady = [record for record in records if record[0] >= started + WARM_UP_SECONDS]
    third = (ended - started - WARM_UP_SECONDS) / 3
    first_end, last_start = started + WARM_UP_SECONDS + third, ended - third

    by_name: dict[str, list[tuple[float, float, bool]]] = defaultdict(list)
    for start, name, milliseconds, failed in steady:
        by_name[name].append((start, milliseconds, failed))
    baseline_p95 = percentile(sorted(ms for _, ms, _ in by_name.get(BASELINE, [])), 0.95)

    seconds = ended - started - WARM_UP_SECONDS
    print(f"\n=== soak: {users} users, {seconds:.0f} s measured after {WARM_UP_SECONDS:.0f} s warm-up ===")
    print(f"{len(steady)} requests ({len(steady) / seconds:.0f}/s), {sum(r[3] for r in steady)} failed")
    print(
        f"{'endpoint':<30} {'requests':>8} {'failed':>6} {'p50':>7} {'p95':>7} {'p99':>7}"
        f" {'p95/livez':>9} {'p95 last/first third':>21}"
    )
    for name in sorted(by_name, key=lambda n: (n != BASELINE, n)):
        rows = by_name[name]
        ordered = sorted(ms for _, ms, _ in rows)
        first = sorted(ms for start, ms, _ in rows if start < first_end)
        last = sorted(ms for start, ms, _ in rows if start >= last_start)
        drift = percentile(last, 0.95) / percentile(first, 0.95) if first and last else float("nan")
        print(
            f"{name:<30} {len(rows):>8} {sum(failed for *_, failed in rows):>6}"
            f" {percentile(ordered, 0.5):>7.1f} {percentile(ordered, 0.95):>7.1f}"
            f" {percentile(ordered, 0.99):>7.1f} {percentile(ordered, 0.95) / baseline_p95:>9.2f}"
            f" {drift:>21.2f}"
        )

    samples = rss.samples
    warm = next((bytes_ for at, bytes_ in samples if at >= samples[0][0] + WARM_UP_SECONDS), samples[0][1])
    end = samples[-1][1]
    minutes = (samples[-1][0] - samples[0][0] - WARM_UP_SECONDS) / 60
    growth = (end - warm) / 2**20 / minutes if minutes > 0 else float("nan")
    print(
        f"server RSS after warm-up {warm / 2**20:.0f} MiB, at the end {end / 2**20:.0f} MiB,"
        f" peak {rss.peak / 2**20:.0f} MiB ({growth:+.1f} MiB/min)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=int, default=120, help="seconds, warm-up included")
    parser.add_argument("--pacing", type=float, default=0.25, help="seconds between a user's requests")
    args = parser.parse_args()
    if args.duration <= 3 * WARM_UP_SECONDS:
        parser.error(f"--duration must exceed {3 * WARM_UP_SECONDS:.0f} s")

    limits_off = {
        f"RATE_LIMIT_{policy}": "1000000/minute" for policy in ("LOGIN", "REFRESH")
    }  # one client IP plays every user: per-IP quotas would measure the limiter
    with tempfile.TemporaryDirectory() as workdir, seeded_server(extra_env=limits_off) as stack:
        records = Path(workdir) / "records.jsonl"
        print(f"locust: {args.users} users every {args.pacing} s for {args.duration} s ...", flush=True)
        with RssSampler(stack.pid, interval=1.0) as rss:
            run_locust(
                stack.base_url, users=args.users, duration=args.duration, pacing=args.pacing, records=records
            )
        report(load_records(records), rss, users=args.users)
    return 0


if __name__ == "__main__":
    sys.exit(main())
