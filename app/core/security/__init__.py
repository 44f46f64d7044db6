"""Password hashing, access tokens, opaque tokens, revocation and CSRF: no FastAPI here."""
