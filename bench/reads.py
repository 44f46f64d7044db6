"""Authenticated reads under load, against the app's own floor measured in the same run.

    uv run python bench/reads.py [--concurrency 32] [--duration 10]

Full stack (bench/stack.py): `invoicer serve` (1 worker) on PostgreSQL + Redis; wrk, as in
two threads and 32 connections (-t2 -c32). Each endpoint is driven in turn:
- GET /livez: every middleware, no auth, no SQL — the floor of any request here;
- GET /api/v1/users/me: bearer token (signature, claims, revocation lookup in Redis), one
  transaction, the user with memberships and organizations, response model;
- GET /api/v1/auth/sessions: the same auth, a counted, paginated list.
Prints req/s, p50/p99, the ratio of each to the floor, and the CPU each request costs the
server and PostgreSQL. Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import sys

from bench.stack import (
    MachineCpu,
    completed_requests,
    latency_percentile,
    requests_per_second,
    run_wrk,
    seeded_server,
    sign_in,
)

ENDPOINTS = ["/livez", "/api/v1/users/me", "/api/v1/auth/sessions"]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()

    rows = []
    with seeded_server(extra_env={}) as stack:
        headers = {"Authorization": f"Bearer {sign_in(stack.base_url)['access_token']}"}
        for path in ENDPOINTS:
            print(f"wrk: {args.concurrency} connections, {args.duration} s, GET {path} ...", flush=True)
            run_wrk(stack.base_url + path, concurrency=args.concurrency, duration=2, headers=headers)  # warm
            with MachineCpu(stack.pid) as cpu:
                output = run_wrk(
                    stack.base_url + path,
                    concurrency=args.concurrency,
                    duration=args.duration,
                    headers=headers,
                )
            assert "Non-2xx" not in output, output
            completed = completed_requests(output)
            rows.append(
                (
                    path,
                    requests_per_second(output),
                    latency_percentile(output, "50"),
                    latency_percentile(output, "99"),
                    cpu.by_program.get("server", 0.0) / completed * 1000,
                    cpu.by_program.get("postgres", 0.0) / completed * 1000,
                )
            )

    floor = rows[0][1]
    print(f"\n=== authenticated reads: {args.concurrency} connections, {args.duration} s each ===")
    columns = ("req/s", "vs livez", "p50", "p99", "server CPU", "postgres")
    print(f"{'endpoint':<24}" + "".join(f" {column:>9}" for column in columns))
    for path, rps, p50, p99, server_ms, postgres_ms in rows:
        print(
            f"{path:<24} {rps:>9.0f} {rps / floor:>9.2f} {p50:>9} {p99:>9}"
            f" {server_ms:>6.2f} ms {postgres_ms:>6.2f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
