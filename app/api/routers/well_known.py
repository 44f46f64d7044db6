"""/.well-known/jwks.json: the public keys that verify our access tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.dependencies.auth import TokenCodecDep

router = APIRouter(tags=["auth"])


class JwksResponse(JSONResponse):
    media_type = "application/jwk-set+json"


@router.get(
    "/.well-known/jwks.json",
    summary="JSON Web Key Set (current and previous keys)",
    description="Public keys (EdDSA) that verify our access tokens; a token's `kid` names its key.",
    response_class=JwksResponse,
)
async def jwks(codec: TokenCodecDep) -> dict[str, Any]:
    return codec.jwks()
