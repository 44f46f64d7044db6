"""Liveness and readiness reports (application/health+json draft): component status only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from redis.asyncio import Redis
from sqlalchemy import text

from app.clients.amqp import ping_broker
from app.core.logging import get_logger
from app.db.migrate import current_revisions, head_revisions
from app.db.session import Database

logger = get_logger(__name__)

Status = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class HealthReport:
    status: Status
    checks: dict[str, list[dict[str, Any]]]
    output: str | None = None

    def as_json(self, *, details: bool) -> dict[str, Any]:
        """The health+json body; `checks` (which dependencies, how fast) only with `details`."""
        body: dict[str, Any] = {"status": self.status}
        if details:
            body["checks"] = self.checks
        if self.output:
            body["output"] = self.output
        return body


class MigrationsBehindError(Exception):
    pass


class HealthService:
    def __init__(
        self,
        *,
        database: Database,
        redis: Redis | None,
        broker_url: str | None,
        timeout_seconds: float,
    ) -> None:
        self._database = database
        self._redis = redis
        self._broker_url = broker_url
        self._timeout = timeout_seconds
        self._heads = head_revisions()  # read once: the code's migrations don't change at runtime
        self._db_name = "postgres" if database.backend == "postgresql" else "sqlite"

    async def readiness(self, *, draining: bool) -> HealthReport:
        probes: list[tuple[str, str, Callable[[], Awaitable[None]]]] = [
            (f"{self._db_name}:responseTime", "datastore", self._check_database),
        ]
        if self._redis is not None:
            probes.append(("redis:responseTime", "datastore", self._check_redis))
        if self._broker_url is not None:
            probes.append(("rabbitmq:responseTime", "component", self._check_broker))
        results = await asyncio.gather(*(self._timed(*probe) for probe in probes))
        checks = dict(results)
        if draining:
            checks["process:shutdown"] = [{"status": "fail", "output": "shutting down"}]
        failed = any(entry["status"] == "fail" for entries in checks.values() for entry in entries)
        return HealthReport(
            status="fail" if failed else "pass",
            checks=checks,
            output="shutting down" if draining else None,
        )

    async def _timed(
        self, key: str, component_type: str, probe: Callable[[], Awaitable[None]]
    ) -> tuple[str, list[dict[str, Any]]]:
        started = time.perf_counter()
        entry: dict[str, Any] = {"componentType": component_type}
        try:
            async with asyncio.timeout(self._timeout):
                await probe()
            entry["status"] = "pass"
        except MigrationsBehindError:
            entry.update(status="fail", output="schema is not at the latest migration")
        except TimeoutError:
            entry.update(status="fail", output="timed out")
        except Exception as exc:  # any failure of a dependency means "not ready", never a 500
            logger.warning("readiness_check_failed", check=key, error=type(exc).__name__)
            entry.update(status="fail", output="unreachable")
        entry["observedValue"] = round((time.perf_counter() - started) * 1000, 2)
        entry["observedUnit"] = "ms"
        entry["time"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return key, [entry]

    async def _check_database(self) -> None:
        async with self._database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            if await current_revisions(connection) != self._heads:
                raise MigrationsBehindError

    async def _check_redis(self) -> None:
        assert self._redis is not None
        await self._redis.ping()

    async def _check_broker(self) -> None:
        assert self._broker_url is not None
        await ping_broker(self._broker_url, timeout_seconds=self._timeout)
