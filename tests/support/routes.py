"""The operations reachable without credentials, on purpose: every other one needs a principal."""

from __future__ import annotations

PUBLIC_OPERATIONS = frozenset(
    {
        ("GET", "/livez"),
        ("GET", "/readyz"),
        ("GET", "/.well-known/jwks.json"),
        ("POST", "/api/v1/auth/signup"),
        ("POST", "/api/v1/auth/verify-email"),
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/auth/revoke"),
        ("POST", "/api/v1/auth/password/forgot"),
        ("POST", "/api/v1/auth/password/reset"),
        ("POST", "/api/v1/auth/session"),
    }
)
