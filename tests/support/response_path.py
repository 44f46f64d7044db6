"""What a request does before its response goes out: the SQL statements run until then.

Work that must not show in a response's timing (whether an address has an account) belongs
after the response; this records the statements executed before `http.response.start`.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import event

from tests.support.jobs import settle_jobs


async def statements_before_response(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> list[str]:
    app: Any = client.app  # type: ignore[attr-defined]
    engine = app.state.services.database.engine
    statements: list[str] = []
    responded = False

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not responded:
            statements.append(statement)

    async def watching(scope: Any, receive: Any, send: Any) -> None:
        async def send_and_note(message: Any) -> None:
            nonlocal responded
            responded = responded or message["type"] == "http.response.start"
            await send(message)

        await app(scope, receive, send_and_note)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        transport = httpx.ASGITransport(app=watching)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as watched:
            response = await watched.request(method, url, **kwargs)
            assert response.is_success, response.text
            await settle_jobs(app)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    return statements
