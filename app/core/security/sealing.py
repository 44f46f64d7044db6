"""Sealing job payloads at rest: a queued email carries a one-time link (a password reset),
and a copy of the database must not hand it out.

AES-256-GCM with a key derived from SECRET_KEY, authenticated with the row's id, so a payload
moved to another row does not open. Rotating SECRET_KEY (docs/operations.md) makes queued
payloads unreadable: their jobs fail and are dead, visible, instead of sending garbage; drain
the queue before rotating.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12


class UnsealableError(ValueError):
    """The payload does not open with this key for this row."""


class PayloadSealer:
    """Built once per process from SECRET_KEY (app/wiring.py)."""

    def __init__(self, secret_key: str) -> None:
        self._key = AESGCM(hashlib.sha256(b"invoicer job payloads\x00" + secret_key.encode()).digest())

    def seal(self, plaintext: bytes, *, row_id: uuid.UUID) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._key.encrypt(nonce, plaintext, row_id.bytes)

    def open(self, sealed: bytes, *, row_id: uuid.UUID) -> bytes:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            return self._key.decrypt(nonce, ciphertext, row_id.bytes)
        except InvalidTag as error:
            raise UnsealableError("the payload does not open with this key") from error
