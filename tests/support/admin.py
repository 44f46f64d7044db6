"""Platform administration from a test: the CLI bootstrap, and an operator's bearer headers."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
from typer.testing import CliRunner

from app.cli import cli
from tests.support.accounts import bearer
from tests.support.factories import account_with_tokens

OPERATOR = "operator@example.com"


def deactivate_url(user_id: object) -> str:
    return f"/api/v1/admin/users/{user_id}/deactivate"


def reactivate_url(user_id: object) -> str:
    return f"/api/v1/admin/users/{user_id}/reactivate"


async def grant_platform_admin(database_url: str, email: str, *, revoke: bool = False) -> Any:
    """Through the real CLI command, as an operator would bootstrap the first administrator."""
    arguments = ["grant-platform-admin", email, *(["--revoke"] if revoke else [])]
    env = {"APP_ENV": "test", "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    return await anyio.to_thread.run_sync(lambda: CliRunner().invoke(cli, arguments, env=env))


async def operator_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """A platform administrator's bearer headers (a new account, made one directly).

    tests/api/test_platform_admin.py grants the right through the CLI, as an operator would.
    """
    tokens = await account_with_tokens(client, OPERATOR, platform_admin=True)
    return bearer(tokens["access_token"])
