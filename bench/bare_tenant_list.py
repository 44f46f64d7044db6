"""The floor of a tenant list: one bare FastAPI route, asyncpg, the same 50 rows.

    BARE_DATABASE_URL=postgresql://owner@127.0.0.1:5432/db PORT=8001 uv run python bench/bare_tenant_list.py

What `GET /api/v1/orgs/{org_id}/audit-log?limit=50` would cost with nothing around it: no
middleware, no authentication, no session or transaction, no tenant seam, no row-level
security (it connects as the tables' owner), no rate limits, no ORM. The same SELECT the app
runs (the newest entries, keyset order, one extra row to tell whether a next page exists)
with the organization as a plain WHERE clause, on an asyncpg pool of DB_POOL_SIZE
connections, returned through the app's own response model so the JSON is the same.
uvicorn, 1 worker, on loopback; bench/tenant_reads.py starts and stops it.
"""

from __future__ import annotations

import os
import uuid
from typing import Annotated

import uvicorn
from fastapi import FastAPI, Query, Request

from app.schemas.audit import AuditLogEntryPublic
from app.schemas.common import CursorPage
from bench.bare_pool import pool_lifespan

_SELECT = """
SELECT id, actor_type, actor_id, action, target_type, target_id, request_id, client_ip,
       changes, created_at
FROM audit_log
WHERE org_id = $1
ORDER BY id DESC
LIMIT $2
"""


app = FastAPI(lifespan=pool_lifespan, openapi_url=None)


@app.get("/orgs/{org_id}/audit-log")
async def list_audit_log(
    org_id: uuid.UUID, request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> CursorPage[AuditLogEntryPublic]:
    rows = await request.app.state.pool.fetch(_SELECT, org_id, limit + 1)
    return CursorPage[AuditLogEntryPublic](
        items=[AuditLogEntryPublic(**dict(row)) for row in rows[:limit]],
        next_cursor=None,
    )


@app.get("/livez")
async def livez() -> dict[str, str]:
    return {"status": "pass"}


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        workers=1,
        access_log=False,
        log_level="warning",
        server_header=False,
    )
