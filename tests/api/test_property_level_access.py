"""Property-level authorization (OWASP API3), generated from the OpenAPI document, so every new
route is covered the day it is added:

- no mass assignment: every JSON request body refuses properties it does not declare, and a
  tenant write that is sent the fields the server owns (ids, status, number, totals, owner,
  timestamps) is refused with 422 naming each of them, before it changes anything;
- no excessive exposure: no response schema has a property that holds a credential's hash, a
  password, a version counter or an internal column, except the one-time secrets a response
  exists to hand over.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.core.permissions import Role
from tests.support.openapi import operations
from tests.support.tenant_calls import CALLS, DOCUMENT, TENANT_OPERATIONS
from tests.support.tenants import make_tenant

pytestmark = pytest.mark.anyio

# What clients must never set: the server decides these.
SERVER_OWNED = {
    "id": "00000000-0000-0000-0000-000000000001",
    "org_id": "00000000-0000-0000-0000-000000000001",
    "status": "paid",
    "number": "INV-1999-000001",
    "total": "0.00",
    "amount_paid": "1000000.00",
    "created_by": {"type": "user", "id": "00000000-0000-0000-0000-000000000001"},
    "created_at": "2000-01-01T00:00:00Z",
    "version": 99,
}
INTERNAL = re.compile(r"hash|password|^version$|_$|^created_by_(user|api_key)_id$|^relayed_at$")
# Responses whose whole point is to hand over a secret, once.
ONE_TIME_SECRETS = {"access_token", "refresh_token", "secret", "csrf_token"}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _json_body(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    return _resolve(content["application/json"]["schema"]) if "application/json" in content else None


BODIES = [
    (method, path, schema)
    for method, path, operation in operations(DOCUMENT)
    if (schema := _json_body(operation)) is not None and schema.get("type") == "object"
]


@pytest.mark.parametrize(("method", "path", "schema"), BODIES, ids=[f"{m} {p}" for m, p, _ in BODIES])
def test_every_json_body_refuses_undeclared_properties(
    method: str, path: str, schema: dict[str, Any]
) -> None:
    assert schema.get("additionalProperties") is False, f"{method} {path} accepts any property"


def _reachable(schema: Any, seen: set[str]) -> None:
    """Every component schema a response schema refers to, at any depth."""
    if isinstance(schema, dict):
        reference = schema.get("$ref")
        if isinstance(reference, str):
            name = reference.rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                _reachable(DOCUMENT["components"]["schemas"][name], seen)
        for value in schema.values():
            _reachable(value, seen)
    elif isinstance(schema, list):
        for value in schema:
            _reachable(value, seen)


def response_schemas() -> set[str]:
    seen: set[str] = set()
    for _, _, operation in operations(DOCUMENT):
        for status, response in operation.get("responses", {}).items():
            if status.startswith("2"):
                _reachable(response.get("content", {}), seen)
    return seen


def test_no_response_schema_exposes_internal_properties() -> None:
    shown = response_schemas()
    assert {"InvoicePublic", "CustomerPublic", "PaymentPublic"} <= shown  # the walk finds them
    exposed = [
        f"{name}.{property_name}"
        for name in sorted(shown)
        for property_name in DOCUMENT["components"]["schemas"][name].get("properties", {})
        if INTERNAL.search(property_name) and property_name not in ONE_TIME_SECRETS
    ]
    assert exposed == []


TENANT_WRITES = sorted(
    (method, path)
    for (method, path) in TENANT_OPERATIONS
    if method in ("POST", "PATCH", "PUT") and isinstance(CALLS[(method, path)].body, dict)
)


async def test_tenant_writes_refuse_every_server_owned_field(client: httpx.AsyncClient) -> None:
    acme = await make_tenant(client)
    unrefused = []
    for method, path in TENANT_WRITES:
        spec = CALLS[(method, path)]
        body = {**spec.body, **{key: value for key, value in SERVER_OWNED.items() if key not in spec.body}}
        url = path.format(org_id=acme.org_id, **spec.path_params)
        response = await client.request(
            method, url, headers={**acme.auth[Role.OWNER], **spec.headers}, params=spec.params, json=body
        )
        refused = {
            error["loc"][-1]
            for error in (response.json().get("errors", []) if response.status_code == 422 else [])
            if error["type"] == "extra_forbidden"
        }
        injected = set(SERVER_OWNED) - set(spec.body)
        if response.status_code != 422 or not injected <= refused:
            unrefused.append(f"{method} {path}: {response.status_code}, refused {sorted(refused)}")
    assert unrefused == []
