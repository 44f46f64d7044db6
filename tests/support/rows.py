"""Reading and changing rows directly, beside the API: what a test asserts on, or sets up."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, Select, func, select, update
from sqlalchemy.ext.asyncio import create_async_engine

from app.models import AuthSession, User


async def user_id_of(database_url: str, email: str) -> uuid.UUID | None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.scalar(select(User.id).where(User.email == email))
    finally:
        await engine.dispose()


async def stored_hash(database_url: str, email: str) -> str:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            value = await connection.scalar(select(User.password_hash).where(User.email == email))
            assert isinstance(value, str)
            return value
    finally:
        await engine.dispose()


async def live_sessions(database_url: str, email: str) -> int:
    """The account's sessions that are not revoked."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                select(func.count())
                .select_from(AuthSession)
                .join(User, User.id == AuthSession.user_id)
                .where(User.email == email, AuthSession.revoked_at.is_(None))
            )
            return int(count or 0)
    finally:
        await engine.dispose()


async def update_user(database_url: str, address: str, **values: Any) -> None:
    """Change an account behind the API's back (an operator's SQL, a future feature)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(update(User).where(User.email == address).values(**values))
    finally:
        await engine.dispose()


async def rows_of(database_url: str, query: Select[*tuple[Any, ...]]) -> list[Row[*tuple[Any, ...]]]:
    """The rows `query` returns, read as the database's owner (no tenant scope applies)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(query)).all())
    finally:
        await engine.dispose()
