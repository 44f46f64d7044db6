"""OpenAPI document: metadata, tags, and errors documented as problem details."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.api.problems import PROBLEM_MEDIA_TYPE, Problem

DESCRIPTION = """
Invoicer is a multi-tenant invoicing API.

* Base path `/api/v1`; tenant routes live under `/api/v1/orgs/{org_id}/...`.
* Every error is an RFC 9457 problem document (`application/problem+json`) with a stable
  `code` and the `request_id`; validation problems list each bad field in `errors`.
* Every response carries `X-Request-ID`; send your own (20-200 chars of `[A-Za-z0-9+/=_-]`)
  to correlate with your logs.
"""

TAGS: list[dict[str, Any]] = [
    {
        "name": "auth",
        "description": "Sign-up, sign-in (bearer tokens or a browser session cookie), rotating "
        "refresh tokens, sessions, password reset. Access tokens are EdDSA JWTs verifiable with "
        "`/.well-known/jwks.json`.",
    },
    {"name": "users", "description": "The signed-in user's own account."},
    {
        "name": "admin",
        "description": "Platform administration, for Invoicer's operators (`invoicer grant-platform-admin`).",
    },
    {"name": "health", "description": "Liveness and readiness probes (application/health+json)."},
]

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """Generated once, then cached on the app (FastAPI's own convention)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    components["Problem"] = problem_schema
    # FastAPI documents 422 with its own {"detail": [...]} shape, which we never send.
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            response = operation.get("responses", {}).get("422")
            if response is not None:
                response["description"] = "Validation error (problem details with `errors`)"
                response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    app.openapi_schema = schema
    return schema
