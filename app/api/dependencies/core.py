"""Process-wide objects (built in the lifespan, kept on `app.state`) as dependencies.

Reading them from the app rather than from module globals keeps each app instance (and each
test) self-contained: no global mutable state.

Every dependency here is `async def` on purpose: FastAPI runs a plain `def` dependency in the
thread pool, and a thread hop per accessor per request costs more than the accessor itself
(measured by bench/login.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.contract import Declares, declare
from app.core.config import Settings
from app.core.errors import ServiceUnavailableError
from app.core.lifecycle import Lifecycle
from app.db.session import Database
from app.services.health import HealthService


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_lifecycle(request: Request) -> Lifecycle:
    lifecycle: Lifecycle = request.app.state.lifecycle
    return lifecycle


async def get_health_service(request: Request) -> HealthService:
    health: HealthService = request.app.state.health
    return health


async def get_session(database: Annotated[Database, Depends(get_database)]) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request: commit after the endpoint returns,
    roll back if it (or anything after it in the dependency chain) raises."""
    async with database.unit_of_work() as session:
        yield session


# Unreachable, or no pooled connection in time: 503 (app/api/error_handlers.py).
declare(get_database, Declares(problems=(ServiceUnavailableError,)))

SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
LifecycleDep = Annotated[Lifecycle, Depends(get_lifecycle)]
HealthServiceDep = Annotated[HealthService, Depends(get_health_service)]
# scope="function": the commit happens before the response is sent, so a failed commit is
# reported to the client as an error instead of after a 2xx it already received.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
