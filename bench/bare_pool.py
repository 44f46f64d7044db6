"""What every bare comparison app shares: an asyncpg pool the size of the app's, with JSON
decoded as the app decodes it, opened and closed with the app (BARE_DATABASE_URL, DB_POOL_SIZE).

The bare apps run as `python -m bench.<name>` from the repository root (bench/stack.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI


async def _decode_json(connection: Any) -> None:
    await connection.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


@asynccontextmanager
async def pool_lifespan(app: FastAPI) -> AsyncIterator[None]:
    size = int(os.environ.get("DB_POOL_SIZE", "10"))  # the app's default pool
    pool = await asyncpg.create_pool(
        os.environ["BARE_DATABASE_URL"], min_size=size, max_size=size, init=_decode_json
    )
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()
