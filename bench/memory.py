"""Memory profiling: does anything keep growing request after request, and where?

    uv run python bench/memory.py [--requests 2000]

Runs the app in this process (its lifespan included) on PostgreSQL + Redis, over ASGI, and
drives a mix of authenticated requests: reading the account and sessions, editing the
profile, rotating the refresh token. After a warm-up, tracemalloc snapshots are taken every
`--requests` requests, three times; the report compares the growth of the second interval
with the first (a leak grows by the same amount each time; caches and pools fill once),
and lists the source lines whose allocations grew the most over the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import sys
import tracemalloc
from typing import Any

import httpx

from app.core.config import load_settings
from app.main import create_app
from bench.stack import DEMO_OWNER, DEMO_PASSWORD, REDIS_URL, api_database_url, seeded_database

WARM_UP_REQUESTS = 300


class Traffic:
    """One signed-in user's mix of requests."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.count = 0

    async def sign_in(self) -> None:
        response = await self.client.post(
            "/api/v1/auth/token", data={"username": DEMO_OWNER, "password": DEMO_PASSWORD}
        )
        response.raise_for_status()
        self._use(response.json())

    def _use(self, tokens: dict[str, Any]) -> None:
        self.refresh_token = tokens["refresh_token"]
        self.client.headers["Authorization"] = f"Bearer {tokens['access_token']}"

    async def run(self, requests: int) -> None:
        for _ in range(requests):
            self.count += 1
            step = self.count % 10
            if step < 6:
                response = await self.client.get("/api/v1/users/me")
            elif step < 8:
                response = await self.client.get("/api/v1/auth/sessions?limit=10")
            elif step == 8:
                response = await self.client.patch("/api/v1/users/me", json={"full_name": "Memory Probe"})
            else:
                response = await self.client.post(
                    "/api/v1/auth/refresh", json={"refresh_token": self.refresh_token}
                )
                if response.is_success:
                    self._use(response.json())
            response.raise_for_status()


def snapshot() -> tracemalloc.Snapshot:
    gc.collect()
    return tracemalloc.take_snapshot().filter_traces(
        (
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        )
    )


def growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> int:
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


async def measure(database_url: str, *, requests: int, top: int) -> None:
    settings = load_settings(
        app_env="test",
        log_level="WARNING",
        database_url=api_database_url(database_url),  # the API's role: row-level security binds it
        migration_database_url=database_url,
        redis_url=REDIS_URL,
        rate_limit_refresh="1000000/minute",
        rate_limit_login="1000000/minute",
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client,
    ):
        traffic = Traffic(client)
        await traffic.sign_in()
        await traffic.run(WARM_UP_REQUESTS)
        tracemalloc.start(10)
        snapshots = [snapshot()]
        for _ in range(3):
            await traffic.run(requests)
            snapshots.append(snapshot())
        tracemalloc.stop()

    first, second, third = (growth(a, b) for a, b in itertools.pairwise(snapshots))
    print(f"\n=== memory: {3 * requests} requests after {WARM_UP_REQUESTS} to warm up ===")
    for index, grown in enumerate((first, second, third), start=1):
        print(f"interval {index}: {grown / 1024:+9.1f} KiB  ({grown / requests:+.1f} B per request)")
    ratio = third / first if first else float("nan")
    print(f"last interval / first: {ratio:.2f}  (a leak keeps this near 1; caches and pools fill once)")
    print(f"\nsource lines that grew the most over the {3 * requests} requests:")
    for stat in snapshots[-1].compare_to(snapshots[0], "lineno")[:top]:
        frame = stat.traceback[0]
        where = f"{frame.filename}:{frame.lineno}"
        print(f"  {stat.size_diff / 1024:+8.1f} KiB {stat.count_diff:+7d} blocks  {where}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests per interval")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    with seeded_database() as database_url:
        asyncio.run(measure(database_url, requests=args.requests, top=args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
