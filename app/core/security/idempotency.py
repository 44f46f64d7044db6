"""Idempotency keys at rest: what is stored reveals neither the key, the request nor the response.

Some responses worth replaying carry a secret shown once (an API key's plaintext). A row that
held it readable would hand it to anyone with a copy of the database, so:

- the row is found by `lookup_hash`: an HMAC, keyed from SECRET_KEY, of the caller and the
  key; a copy of the database alone cannot even test a guessed key;
- the request's fingerprint and the stored response are keyed by the raw key itself (HKDF from
  the key, the caller and SECRET_KEY): only a retry that presents the key can compare or read
  them. The response is sealed with AES-256-GCM, authenticated with the row's lookup hash, so a
  sealed response moved to another row does not open.

Rotating SECRET_KEY makes every stored key unfindable: retries within the window execute again
(docs/operations.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAX_KEY_LENGTH = 255
# Printable ASCII, 1-255 characters, no space at either end: HTTP trims a field value's
# surrounding whitespace, so such a key could not come back the same (also the OpenAPI pattern).
KEY_PATTERN = r"^[!-~](?:[ -~]{0,253}[!-~])?$"
_KEY = re.compile(KEY_PATTERN)
_NONCE_BYTES = 12


def is_valid_key(value: str) -> bool:
    return _KEY.fullmatch(value) is not None


class SealedResponseError(ValueError):
    """A stored response that does not open with the key presented: treat the row as absent."""


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """What one presented key derives: the row's address and the keys only a retry can rebuild."""

    lookup_hash: str
    _fingerprint_key: bytes
    _sealing_key: bytes

    def fingerprint(self, *parts: bytes) -> str:
        """Of the request (method, target, body): length-prefixed, so no two splits collide."""
        digest = hmac.new(self._fingerprint_key, digestmod=hashlib.sha256)
        for part in parts:
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        return digest.hexdigest()

    def seal(self, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + AESGCM(self._sealing_key).encrypt(nonce, plaintext, self.lookup_hash.encode())

    def open(self, sealed: bytes) -> bytes:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            return AESGCM(self._sealing_key).decrypt(nonce, ciphertext, self.lookup_hash.encode())
        except InvalidTag as error:
            raise SealedResponseError("the stored response does not open with this key") from error

    @property
    def lock_id(self) -> int:
        """A signed 64-bit number for PostgreSQL's advisory locks, from the lookup hash."""
        return int.from_bytes(bytes.fromhex(self.lookup_hash[:16]), "big", signed=True)


class IdempotencyKeyring:
    """Built once per process from SECRET_KEY (app/wiring.py)."""

    def __init__(self, secret_key: str) -> None:
        root = hashlib.sha256(b"invoicer idempotency keys\x00" + secret_key.encode()).digest()
        self._lookup_key = hmac.new(root, b"lookup", hashlib.sha256).digest()
        self._derivation_salt = hmac.new(root, b"derive", hashlib.sha256).digest()

    def material(self, *, scope: str, key: str) -> KeyMaterial:
        """`scope` names the caller (`user:<id>`, `api_key:<id>`): another caller's same key is
        another row, and its responses another caller cannot open."""
        identity = scope.encode() + b"\x00" + key.encode()
        lookup = hmac.new(self._lookup_key, identity, hashlib.sha256).hexdigest()
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=64,
            salt=self._derivation_salt,
            info=b"invoicer idempotency\x00" + scope.encode(),
        ).derive(key.encode())
        return KeyMaterial(lookup_hash=lookup, _fingerprint_key=derived[:32], _sealing_key=derived[32:])
