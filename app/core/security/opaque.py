"""Opaque reference tokens (refresh, reset, verification, browser sessions).

256 bits from the OS CSPRNG; only their SHA-256 is stored, so a database leak yields no
usable token. SHA-256 (not a slow hash) is right here: the input is already high-entropy.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
