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
        ("POST", "/api/v1/invitations/signup"),
    }
)

# Hidden from the OpenAPI document, so the walk over it above does not see them: the pages
# emailed links open (public: the token in the form is the credential), the docs and their
# document, and the metrics scrape (guarded by METRICS_TOKEN, not by a principal).
PUBLIC_PAGES = frozenset(
    {
        ("GET", "/verify-email"),
        ("POST", "/verify-email"),
        ("GET", "/reset-password"),
        ("POST", "/reset-password"),
        ("GET", "/forgot-password"),
        ("POST", "/forgot-password"),
        ("GET", "/invitations/accept"),
        ("POST", "/invitations/accept"),
        # The hosted invoice page and its PDF: the token in the path is the credential.
        ("GET", "/i/{token}"),
        ("GET", "/i/{token}/pdf"),
    }
)
HIDDEN_ROUTES = PUBLIC_PAGES | {
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/metrics"),
}
