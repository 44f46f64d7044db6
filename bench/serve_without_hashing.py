"""`invoicer serve` with argon2id replaced by an instant check, to measure everything else.

Used by `bench/login.py --without-hashing`: the sign-in rate it reaches is bounded by the
non-hash work of a sign-in (HTTP, SQL, Redis, JWT), which is what competes with hashing for
the CPU in a real run. Never used by the app or the tests.
"""

from __future__ import annotations

import uvicorn

from app.core.config import load_settings
from app.core.security.passwords import PasswordHasher
from app.main import create_app


async def _instant_verify(
    self: PasswordHasher, password: str, password_hash: str | None
) -> tuple[bool, str | None]:
    return password_hash is not None, None


def main() -> None:
    PasswordHasher.verify = _instant_verify  # type: ignore[method-assign]
    settings = load_settings()
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False
    )


if __name__ == "__main__":
    main()
