"""CSRF protection for cookie sessions: a signed double-submit token bound to the session.

The token is sent as a readable cookie and must come back in `X-CSRF-Token` on unsafe
methods. It is an HMAC of the session id, so a token planted by a sibling subdomain (cookie
tossing) for another session does not verify.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid


def new_csrf_token(secret: str, session_id: uuid.UUID) -> str:
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_sign(secret, session_id, nonce)}"


def csrf_token_valid(secret: str, session_id: uuid.UUID, token: str | None) -> bool:
    if not token or token.count(".") != 1:
        return False
    nonce, signature = token.split(".")
    return hmac.compare_digest(signature, _sign(secret, session_id, nonce))


def _sign(secret: str, session_id: uuid.UUID, nonce: str) -> str:
    message = f"{session_id}.{nonce}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
