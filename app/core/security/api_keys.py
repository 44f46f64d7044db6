"""API key secrets: `ik_` + 256 random bits, stored as a keyed hash (HMAC-SHA256).

A fast hash is right for a high-entropy secret (no one can guess 256 bits, slowly or fast); the
key, derived from SECRET_KEY, means a copy of the database alone does not even let anyone test
a candidate secret. Rotating SECRET_KEY therefore invalidates every API key (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_KEY_PREFIX = "ik_"
SECRET_BYTES = 32
# Shown in lists so people can tell their keys apart: the prefix and the first 8 characters.
DISPLAY_LENGTH = len(API_KEY_PREFIX) + 8
# `ik_` and a base64url body of 43 characters; anything else is not one of ours.
SECRET_LENGTH = len(API_KEY_PREFIX) + 43


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def looks_like_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX)


def api_key_hasher(secret_key: str) -> ApiKeyHasher:
    return ApiKeyHasher(hashlib.sha256(b"invoicer api keys\x00" + secret_key.encode()).digest())


class ApiKeyHasher:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def hash(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()
