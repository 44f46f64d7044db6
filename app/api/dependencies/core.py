"""Process-wide objects as dependencies: `ServicesDep`, the typed container the lifespan
builds (app/wiring.py), and narrow aliases of its parts for routes that need only one.

Reading them from the app rather than from module globals keeps each app instance (and each
test) self-contained: no global mutable state. The accessors take the request, not another
dependency: FastAPI solves every node of a route's dependency tree on every request (cached
or not), so a leaf that needs nothing but the request is the cheapest kind.

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
from app.clients.storage import Storage
from app.core.config import Settings
from app.core.errors import ServiceUnavailableError
from app.core.lifecycle import Lifecycle
from app.db.session import Database
from app.services.health import HealthService
from app.wiring import AppServices


def services_of(request: Request) -> AppServices:
    services: AppServices = request.app.state.services
    return services


async def get_services(request: Request) -> AppServices:
    return services_of(request)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    return services_of(request).database


async def get_lifecycle(request: Request) -> Lifecycle:
    lifecycle: Lifecycle = request.app.state.lifecycle
    return lifecycle


async def get_health_service(request: Request) -> HealthService:
    return services_of(request).health


async def get_storage(request: Request) -> Storage:
    return services_of(request).storage


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request: commit after the endpoint returns,
    roll back if it (or anything after it in the dependency chain) raises."""
    async with services_of(request).database.unit_of_work() as session:
        yield session


# Unreachable, or no pooled connection in time: 503 (app/api/error_handlers.py).
declare(get_database, Declares(problems=(ServiceUnavailableError,)))
declare(get_session, Declares(problems=(ServiceUnavailableError,)))

ServicesDep = Annotated[AppServices, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
LifecycleDep = Annotated[Lifecycle, Depends(get_lifecycle)]
HealthServiceDep = Annotated[HealthService, Depends(get_health_service)]
StorageDep = Annotated[Storage, Depends(get_storage)]
# scope="function": the commit happens before the response is sent, so a failed commit is
# reported to the client as an error instead of after a 2xx it already received.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
