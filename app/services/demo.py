"""Demo data for `make run`: idempotent, dev/test only."""

from __future__ import annotations

from app.core.config import Settings
from app.db.session import Database


async def seed_demo_data(settings: Settings) -> str:
    database = Database(settings)
    try:
        async with database.unit_of_work():
            pass
    finally:
        await database.dispose()
    return "Nothing to seed yet: accounts arrive with the identity capability."
