"""Access tokens: short-lived JWTs signed with Ed25519 (EdDSA), verified strictly.

- one algorithm, allow-listed; `alg: none` and HMAC-with-the-public-key are refused;
- keys only from configuration, chosen by `kid` (a JWK thumbprint); `jku`/`x5u`/`jwk` ignored;
- the current key signs, previous keys still verify (rotation without logouts);
- typed (`typ: at+jwt`, RFC 9068) so no other token kind passes as an access token;
- `iss`, `aud`, `exp`, `nbf`, `iat`, `sub`, `sid`, `jti` required.

A token that verified once is remembered (bounded, least recently used first out) until it
expires: the signature check and claim validation were most of an authenticated request's
own CPU (docs/benchmarks.md), and a token's validity cannot change before its `exp`, apart
from revocation, which is checked on every request anyway (app/services/principals.py).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"
ACCESS_TOKEN_TYPE = "at+jwt"
REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp"]


class InvalidTokenError(Exception):
    """The presented token cannot be trusted (the reason is for logs, not for clients)."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    token_id: str
    expires_at: int


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}


def key_id(key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint: stable for a key, identical on every replica."""
    jwk = _public_jwk(key)
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def load_private_key(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("JWT_PRIVATE_KEY must be an Ed25519 private key")
    return key


def load_public_key(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("previous JWT keys must be Ed25519 public keys")
    return key


def private_key_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def dev_private_key(path: Path) -> Ed25519PrivateKey:
    """Development only: a key kept under ./var/ so tokens survive restarts.

    Created atomically (write aside, then hard-link into place), so several workers starting
    at once all end up with the one key that won.
    """
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = path.with_name(f".{path.name}.{os.getpid()}")
        candidate.write_text(private_key_pem(Ed25519PrivateKey.generate()))
        candidate.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(candidate, path)
        candidate.unlink()
    return load_private_key(path.read_text())


class AccessTokenCodec:
    def __init__(
        self,
        *,
        signing_key: Ed25519PrivateKey,
        previous_keys: list[Ed25519PublicKey],
        issuer: str,
        audience: str,
        ttl: timedelta,
        leeway_seconds: int,
        cache_size: int = 0,
    ) -> None:
        self._signing_key = signing_key
        self._kid = key_id(signing_key.public_key())
        self._verification_keys = {self._kid: signing_key.public_key()}
        for key in previous_keys:
            self._verification_keys.setdefault(key_id(key), key)
        self._issuer = issuer
        self._audience = audience
        self.ttl = ttl
        self._leeway = leeway_seconds
        self._cache_size = cache_size
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

    @property
    def current_kid(self) -> str:
        return self._kid

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {**_public_jwk(key), "kid": kid, "alg": ALGORITHM, "use": "sig"}
                for kid, key in self._verification_keys.items()
            ]
        }

    def issue(self, *, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime) -> str:
        issued = int(now.timestamp())
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user_id),
            "sid": str(session_id),
            "jti": uuid.uuid4().hex,
            "iat": issued,
            "nbf": issued,
            "exp": issued + int(self.ttl.total_seconds()),
        }
        headers = {"kid": self._kid, "typ": ACCESS_TOKEN_TYPE}
        return jwt.encode(claims, self._signing_key, algorithm=ALGORITHM, headers=headers)

    def verify(self, token: str) -> AccessClaims:
        claims = self._verified.get(token)
        if claims is not None:
            # PyJWT's own rule: expired once `exp <= now - leeway`.
            if claims.expires_at > time.time() - self._leeway:
                self._verified.move_to_end(token)
                return claims
            del self._verified[token]
        claims = self._verify_signed(token)
        if self._cache_size:
            self._verified[token] = claims
            if len(self._verified) > self._cache_size:
                self._verified.popitem(last=False)
        return claims

    def _verify_signed(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidTokenError("malformed token") from exc
        if header.get("alg") != ALGORITHM:
            raise InvalidTokenError("algorithm not allowed")
        if header.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidTokenError("not an access token")
        key = self._verification_keys.get(str(header.get("kid")))
        if key is None:
            raise InvalidTokenError("unknown key id")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
            return AccessClaims(
                user_id=uuid.UUID(claims["sub"]),
                session_id=uuid.UUID(claims["sid"]),
                token_id=str(claims["jti"]),
                expires_at=int(claims["exp"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidTokenError(type(exc).__name__) from exc
