"""Password hashing (argon2id via pwdlib) off the event loop, and the password policy."""

from __future__ import annotations

import functools
from pathlib import Path

import anyio
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core.config import Settings

COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


class PasswordHasher:
    """argon2id with bounded concurrency: at most `concurrency` hashes (and their memory) at once.

    Hashing runs in worker threads (argon2-cffi releases the GIL), so the event loop keeps
    serving while a login computes; callers must not hold a database connection meanwhile.
    """

    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int, concurrency: int) -> None:
        self._hash = PasswordHash(
            (Argon2Hasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism),)
        )
        self._limiter = anyio.CapacityLimiter(concurrency)
        # Verified when the account does not exist, so that path costs the same as a real one.
        self._dummy_hash = _dummy_hash(memory_kib, time_cost, parallelism)

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHasher:
        return cls(
            memory_kib=settings.password_hash_memory_kib,
            time_cost=settings.password_hash_time_cost,
            parallelism=settings.password_hash_parallelism,
            concurrency=settings.effective_password_hash_concurrency,
        )

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hash.hash, password, limiter=self._limiter)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """(valid, new hash if the stored one used weaker parameters). None: a dummy verify."""
        if password_hash is None:
            await anyio.to_thread.run_sync(
                functools.partial(self._hash.verify, password, self._dummy_hash), limiter=self._limiter
            )
            return False, None
        return await anyio.to_thread.run_sync(
            self._hash.verify_and_update, password, password_hash, limiter=self._limiter
        )


@functools.cache
def _dummy_hash(memory_kib: int, time_cost: int, parallelism: int) -> str:
    """One per parameter set and process: computing it is a full hash."""
    hasher = Argon2Hasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
    return hasher.hash("dummy password for unknown accounts")


@functools.cache
def common_passwords() -> frozenset[str]:
    return frozenset(COMMON_PASSWORDS_FILE.read_text().split())


def password_problems(
    password: str, *, min_length: int, max_length: int, email: str | None = None
) -> list[str]:
    """Why a new password is refused (OWASP/ASVS): length and known-bad values, no composition rules."""
    problems: list[str] = []
    length = len(password)
    if length < min_length:
        problems.append(f"must be at least {min_length} characters")
    if length > max_length:
        problems.append(f"must be at most {max_length} characters")
    lowered = password.lower()
    if lowered in common_passwords():
        problems.append("is too common")
    if email and lowered in {email.lower(), email.split("@", 1)[0].lower()}:
        problems.append("must not be your email address")
    if password and len(set(password)) == 1:
        problems.append("must not repeat a single character")
    return problems
