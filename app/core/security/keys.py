"""Where the access-token signing key comes from, per environment."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.core.config import Settings
from app.core.security.jwt import dev_private_key, load_private_key, load_public_key

DEV_KEY_FILE = Path("var") / "jwt-signing-key.pem"


def signing_keys(settings: Settings) -> tuple[Ed25519PrivateKey, list[Ed25519PublicKey]]:
    """Configured keys; dev keeps a generated key under ./var/, test an ephemeral one.

    Staging and prod never get here without JWT_PRIVATE_KEY (settings validation refuses).
    """
    previous = [load_public_key(pem) for pem in settings.jwt_previous_public_keys]
    if settings.jwt_private_key is not None:
        return load_private_key(settings.jwt_private_key.get_secret_value()), previous
    if settings.app_env == "dev":
        return dev_private_key(DEV_KEY_FILE), previous
    return Ed25519PrivateKey.generate(), previous
