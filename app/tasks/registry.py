"""Every task the workers run, by name: the broker's messages name a task and carry ids only.

Two shapes:
- a *work* task takes the id of a `LeasedWork` row (an email job, a webhook delivery) or of an
  event; its handler reads the truth from the database, so a duplicate or stale message is
  harmless;
- a *periodic* task takes nothing; the scheduler sends it on its cron schedule, and its run is
  claimed once per slot (app/tasks/periodic.py), so several schedulers may run at once.

Handlers live next to their subject (app/tasks/emails.py, …) and register here with
`work_task` / `periodic_task`; app/tasks/catalogue.py imports them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.tasks.context import WorkerContext

WorkHandler = Callable[["WorkerContext", uuid.UUID], Awaitable[None]]
PeriodicHandler = Callable[["WorkerContext"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class WorkTask:
    name: str
    handler: WorkHandler


@dataclass(frozen=True, slots=True)
class PeriodicTask:
    name: str
    handler: PeriodicHandler
    cron: str  # UTC, five fields


WORK_TASKS: dict[str, WorkTask] = {}
PERIODIC_TASKS: dict[str, PeriodicTask] = {}


def work_task(name: str) -> Callable[[WorkHandler], WorkHandler]:
    def register(handler: WorkHandler) -> WorkHandler:
        if name in WORK_TASKS or name in PERIODIC_TASKS:
            raise ValueError(f"task {name!r} is registered twice")
        WORK_TASKS[name] = WorkTask(name=name, handler=handler)
        return handler

    return register


def periodic_task(name: str, *, cron: str) -> Callable[[PeriodicHandler], PeriodicHandler]:
    def register(handler: PeriodicHandler) -> PeriodicHandler:
        if name in WORK_TASKS or name in PERIODIC_TASKS:
            raise ValueError(f"task {name!r} is registered twice")
        PERIODIC_TASKS[name] = PeriodicTask(name=name, handler=handler, cron=cron)
        return handler

    return register
