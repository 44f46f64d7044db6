"""Opaque, tamper-evident keyset cursors, bound to what they page through.

A cursor is the position (the last row's id) plus an HMAC over it and its *binding*: the
organization, the list and its filters. A cursor that was edited, or made for another
organization, list or filter, fails the check (400), so it can neither be forged to skip
the organization filter nor replayed against another query.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from app.core.errors import InvalidCursorError

_TAG_BYTES = 16


class CursorCodec:
    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"invoicer cursors\x00" + secret_key.encode()).digest()

    def encode(self, position: uuid.UUID, *, binding: str) -> str:
        raw = position.bytes
        return base64.urlsafe_b64encode(raw + self._tag(raw, binding)).decode().rstrip("=")

    def decode(self, cursor: str, *, binding: str) -> uuid.UUID:
        try:
            data = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except ValueError:
            raise InvalidCursorError from None
        raw, tag = data[:16], data[16:]
        if len(raw) != 16 or not hmac.compare_digest(tag, self._tag(raw, binding)):
            raise InvalidCursorError
        return uuid.UUID(bytes=raw)

    def _tag(self, raw: bytes, binding: str) -> bytes:
        return hmac.new(self._key, raw + b"\x00" + binding.encode(), hashlib.sha256).digest()[:_TAG_BYTES]
