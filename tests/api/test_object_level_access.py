"""BOLA, generated: every tenant operation that names an object answers another organization's
object exactly as it answers a missing one, and changes nothing.

The caller is the owner of their own organization, holding every permission there; the ids
belong to Acme, where they are no one. For each operation with an object id in its path
(from the OpenAPI document, so a new route is covered or fails here), the answer to Acme's
id and to an id that exists nowhere must be the same problem (status, code, title, detail),
and Acme's objects must all still be there afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from app.core.permissions import Role
from tests.support.attachments import upload
from tests.support.invoicing import new_customer, new_invoice
from tests.support.tenant_calls import CALLS, MISSING, TENANT_OPERATIONS
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

ObjectMaker = Callable[[httpx.AsyncClient, Tenant], Awaitable[str]]


async def _member(client: httpx.AsyncClient, acme: Tenant) -> str:
    return str(acme.ids[Role.VIEWER])


async def _api_key(client: httpx.AsyncClient, acme: Tenant) -> str:
    created = await client.post(
        acme.path("/api-keys"),
        headers=acme.auth[Role.OWNER],
        json={"name": "acme's", "scopes": ["members:read"]},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _invitation(client: httpx.AsyncClient, acme: Tenant) -> str:
    created = await client.post(
        acme.path("/invitations"),
        headers=acme.auth[Role.OWNER],
        json={"email": "invited@acme.example.com", "role": "viewer"},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _customer(client: httpx.AsyncClient, acme: Tenant) -> str:
    created = await client.post(
        acme.path("/customers"), headers=acme.auth[Role.OWNER], json={"name": "Acme's customer"}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _invoice(client: httpx.AsyncClient, acme: Tenant) -> str:
    created = await new_invoice(client, acme, await new_customer(client, acme))
    return str(created.json()["id"])


async def _attachment(client: httpx.AsyncClient, acme: Tenant) -> str:
    """On the invoice `_invoice` made just before (the newest), so the pair names one object."""
    newest = await client.get(acme.path("/invoices"), headers=acme.auth[Role.OWNER], params={"limit": 1})
    invoice_id = newest.json()["items"][0]["id"]
    created = await upload(client, acme, invoice_id, role=Role.OWNER)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _event(client: httpx.AsyncClient, acme: Tenant) -> str:
    await _customer(client, acme)
    listed = await client.get(acme.path("/events"), headers=acme.auth[Role.OWNER], params={"limit": 1})
    assert listed.status_code == 200, listed.text
    return str(listed.json()["items"][0]["id"])


async def _webhook_endpoint(client: httpx.AsyncClient, acme: Tenant) -> str:
    created = await client.post(
        acme.path("/webhook-endpoints"),
        headers=acme.auth[Role.OWNER],
        json={"url": "https://hooks.acme.invalid/", "event_types": ["invoice.paid"]},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _webhook_delivery(client: httpx.AsyncClient, acme: Tenant) -> str:
    """A ping of the endpoint `_webhook_endpoint` made just before (the newest)."""
    newest = await client.get(
        acme.path("/webhook-endpoints"), headers=acme.auth[Role.OWNER], params={"limit": 1}
    )
    endpoint_id = newest.json()["items"][0]["id"]
    sent = await client.post(
        acme.path(f"/webhook-endpoints/{endpoint_id}/ping"), headers=acme.auth[Role.OWNER]
    )
    assert sent.status_code == 202, sent.text
    return str(sent.json()["id"])


# Per path parameter: how to make an object of Acme's that the parameter names.
OBJECTS: dict[str, ObjectMaker] = {
    "user_id": _member,
    "api_key_id": _api_key,
    "invitation_id": _invitation,
    "customer_id": _customer,
    "invoice_id": _invoice,
    "attachment_id": _attachment,  # after invoice_id: it attaches to that invoice
    "event_id": _event,
    "endpoint_id": _webhook_endpoint,
    "delivery_id": _webhook_delivery,  # after endpoint_id: a ping of that endpoint
}
# What must still be listed in Acme afterwards, per parameter: (list path, formatted with the
# objects' ids, and the item field).
LISTED_AT: dict[str, tuple[str, str]] = {
    "user_id": ("/members", "user_id"),
    "api_key_id": ("/api-keys", "id"),
    "invitation_id": ("/invitations", "id"),
    "customer_id": ("/customers", "id"),
    "invoice_id": ("/invoices", "id"),
    "attachment_id": ("/invoices/{invoice_id}/attachments", "id"),
    "event_id": ("/events", "id"),
    "endpoint_id": ("/webhook-endpoints", "id"),
    "delivery_id": ("/webhook-endpoints/{endpoint_id}/deliveries", "id"),
}

OBJECT_OPERATIONS = sorted(
    (method, path) for method, path in TENANT_OPERATIONS if set(re.findall(r"{(\w+)}", path)) - {"org_id"}
)


def object_params(path: str) -> list[str]:
    return [name for name in re.findall(r"{(\w+)}", path) if name != "org_id"]


def problem(response: httpx.Response) -> tuple[int, Any, Any, Any]:
    body = response.json()
    return response.status_code, body.get("code"), body.get("title"), body.get("detail")


def test_every_object_parameter_has_a_maker() -> None:
    assert OBJECT_OPERATIONS  # the document was read
    named = {name for _method, path in OBJECT_OPERATIONS for name in object_params(path)}
    assert named == set(OBJECTS) == set(LISTED_AT)


async def test_another_organizations_objects_are_missing_objects(client: httpx.AsyncClient) -> None:
    acme = await make_tenant(client)
    foreign = {name: await make(client, acme) for name, make in OBJECTS.items()}
    caller = acme.outsider  # the owner of their own organization
    mismatches = []
    for method, path in OBJECT_OPERATIONS:
        spec = CALLS[(method, path)]
        answers = []
        for ids in (foreign, dict.fromkeys(foreign, MISSING)):
            params = {**spec.path_params, **{name: ids[name] for name in object_params(path)}}
            url = path.format(org_id=acme.outsider_org_id, **params)
            response = await client.request(
                method, url, headers={**caller, **spec.headers}, params=spec.params, json=spec.body
            )
            answers.append(problem(response))
        if answers[0] != answers[1] or answers[0][0] != 404:
            mismatches.append(f"{method} {path}: Acme's id {answers[0]}, a missing id {answers[1]}")
    assert mismatches == []
    for name, (list_path, field) in LISTED_AT.items():
        listed = await client.get(acme.path(list_path.format(**foreign)), headers=acme.auth[Role.OWNER])
        assert foreign[name] in {str(item[field]) for item in listed.json()["items"]}, name


async def test_ids_that_are_not_ids_are_refused_before_any_lookup(client: httpx.AsyncClient) -> None:
    acme = await make_tenant(client)
    for method, path in OBJECT_OPERATIONS:
        spec = CALLS[(method, path)]
        params = {**spec.path_params, **dict.fromkeys(object_params(path), "1 OR 1=1")}
        url = path.format(org_id=acme.org_id, **params)
        response = await client.request(
            method, url, headers={**acme.auth[Role.OWNER], **spec.headers}, params=spec.params, json=spec.body
        )
        assert response.status_code == 422, (method, path, response.text)
        assert {tuple(error["loc"][:1]) for error in response.json()["errors"]} == {("path",)}
