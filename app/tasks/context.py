"""What a task handler works with: the process's services, its worker id, outbound HTTP."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from app.core.metrics import JobMetrics
from app.db.session.tenancy import system_scope

if TYPE_CHECKING:
    from app.wiring import AppServices


def new_worker_id() -> str:
    """Names the lease holder in rows and logs: which host and process held a job."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{uuid7().hex[-8:]}"


@dataclass(slots=True)
class WorkerContext:
    services: AppServices
    worker_id: str
    # Outbound requests to customers' endpoints (app/clients/webhooks.py): one pooled client.
    http: httpx.AsyncClient
    metrics: JobMetrics
    tracer_provider: TracerProvider | None = None

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction outside any request, with tenant scoping lifted for the worker (a
        handler narrows to the organization it works for when it reads tenant data)."""
        async with self.services.database.unit_of_work() as session:
            await system_scope(session, "worker")
            yield session
