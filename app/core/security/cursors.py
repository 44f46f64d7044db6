"""Opaque, tamper-evident keyset cursors, bound to what they page through.

A cursor is the position (the last row's id, or for a list sorted by another column that
column's value and the id) plus an HMAC over it and its *binding*: the organization, the list,
its sort order and its filters. A cursor that was edited, or made for another
organization, list or filter, fails the check (400), so it can neither be forged to skip
the organization filter nor replayed against another query.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence

from app.core.errors import InvalidCursorError

_TAG_BYTES = 16


class CursorCodec:
    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"invoicer cursors\x00" + secret_key.encode()).digest()

    def encode(self, position: uuid.UUID, *, binding: str) -> str:
        raw = position.bytes
        return base64.urlsafe_b64encode(raw + self._tag(raw, binding)).decode().rstrip("=")

    def decode(self, cursor: str, *, binding: str) -> uuid.UUID:
        data = _unbase64(cursor)
        raw, tag = data[:16], data[16:]
        if len(raw) != 16 or not hmac.compare_digest(tag, self._tag(raw, binding)):
            raise InvalidCursorError
        return uuid.UUID(bytes=raw)

    def encode_keyset(self, values: Sequence[str], *, binding: str) -> str:
        """A position of several columns (a sort value, then the id), each as text."""
        raw = json.dumps(list(values), separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(self._tag(raw, binding) + raw).decode().rstrip("=")

    def decode_keyset(self, cursor: str, *, binding: str, arity: int) -> list[str]:
        data = _unbase64(cursor)
        tag, raw = data[:_TAG_BYTES], data[_TAG_BYTES:]
        if not hmac.compare_digest(tag, self._tag(raw, binding)):
            raise InvalidCursorError
        # Signed by us, so well-formed; checked anyway, as a key rotation could change the shape.
        values = json.loads(raw)
        if (
            not isinstance(values, list)
            or len(values) != arity
            or not all(isinstance(v, str) for v in values)
        ):
            raise InvalidCursorError
        return values

    def _tag(self, raw: bytes, binding: str) -> bytes:
        return hmac.new(self._key, raw + b"\x00" + binding.encode(), hashlib.sha256).digest()[:_TAG_BYTES]


def _unbase64(cursor: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError:
        raise InvalidCursorError from None
