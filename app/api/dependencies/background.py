"""`AfterResponseDep`: run a service call once the response has been sent, in its own transaction.

For work whose presence must not show in the response or its timing (a password-reset request
for an existing account does a lookup, a write and an email; for an unknown one, nothing):
the response path does the same for both, and the work happens after it. The job is lost if
the process dies before it runs, so it suits only work the person can simply ask for again (a sign-up, a
reset link); a durable job queue is planned for the rest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.dependencies.core import services_of
from app.core.logging import get_logger
from app.db.session import Database

logger = get_logger(__name__)

Job = Callable[[AsyncSession], Awaitable[None]]


class AfterResponse:
    def __init__(self, background: BackgroundTasks, database: Database) -> None:
        self._background = background
        self._database = database

    def run(self, name: str, job: Job) -> None:
        self._background.add_task(self._run, name, job)

    async def _run(self, name: str, job: Job) -> None:
        try:
            async with self._database.unit_of_work() as session:
                await job(session)
        except Exception:
            # The response is already sent: nobody else will hear of the failure.
            logger.exception("after_response_job_failed", job=name)


async def get_after_response(background: BackgroundTasks, request: Request) -> AfterResponse:
    return AfterResponse(background, services_of(request).database)


AfterResponseDep = Annotated[AfterResponse, Depends(get_after_response)]
