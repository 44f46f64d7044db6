"""Hosted invoice link tokens: 256 random bits in the URL, stored as a keyed hash (HMAC-SHA256).

As for API keys (app/core/security/api_keys.py): a fast hash suits a secret no one can guess,
and the key, derived from SECRET_KEY under its own label, means a copy of the database alone
cannot test a candidate token. Rotating SECRET_KEY therefore ends every hosted link.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

TOKEN_BYTES = 32
# What `secrets.token_urlsafe(32)` makes: 43 base64url characters. Anything else is refused
# before it is hashed or looked up.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def new_link_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_link_token(token: str) -> bool:
    return _TOKEN.fullmatch(token) is not None


class LinkTokenHasher:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def hash(self, token: str) -> str:
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()


def link_token_hasher(secret_key: str) -> LinkTokenHasher:
    return LinkTokenHasher(hashlib.sha256(b"invoicer invoice links\x00" + secret_key.encode()).digest())
