"""Standard Webhooks signatures (standardwebhooks.com, v1): secrets, the signed content, headers.

A secret is `whsec_` + base64 of 32 random bytes; the key is those bytes. Each delivery is
signed over `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256, sent as
`webhook-signature: v1,<base64>`; while a rotated secret is still in its grace period the
header carries one signature per secret, space-separated, newest first, so a receiver that
has either secret verifies it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret stands for."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def signature(key: bytes, *, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def delivery_headers(
    *, message_id: str, timestamp: int, body: bytes, keys: Sequence[bytes], traceparent: str | None = None
) -> dict[str, str]:
    """Every header of one attempt's request, besides `Host` and `User-Agent`: the one place
    they are built. `traceparent` (W3C) puts the receiver's handling in the trace of the change
    that caused the event."""
    signatures = " ".join(
        signature(key, message_id=message_id, timestamp=timestamp, body=body) for key in keys
    )
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
    if traceparent is not None:
        headers["traceparent"] = traceparent
    return headers
