"""How to call each tenant operation harmlessly, for the suites that call every one of them
(the permission matrix, BOLA): path parameters, query and body.

One entry per operation under `/orgs/{org_id}`; a new tenant route fails
`test_every_tenant_operation_is_in_the_matrix` until it is described here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.support.openapi import operations, served_openapi


@dataclass(frozen=True)
class Call:
    """How to call an operation harmlessly: path parameters, query, body."""

    path_params: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


TENANT_PREFIX = "/api/v1/orgs/{org_id}"
MISSING = str(uuid.UUID(int=1))


CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/api/v1/orgs/{org_id}"): Call(),
    ("PATCH", "/api/v1/orgs/{org_id}"): Call(body={}),
    ("DELETE", "/api/v1/orgs/{org_id}"): Call(params={"confirm": "not-the-slug"}),
    ("GET", "/api/v1/orgs/{org_id}/members"): Call(),
    ("GET", "/api/v1/orgs/{org_id}/members/{user_id}"): Call(path_params={"user_id": MISSING}),
    ("PATCH", "/api/v1/orgs/{org_id}/members/{user_id}"): Call(
        path_params={"user_id": MISSING}, body={"role": "viewer"}
    ),
    ("DELETE", "/api/v1/orgs/{org_id}/members/{user_id}"): Call(path_params={"user_id": MISSING}),
    ("POST", "/api/v1/orgs/{org_id}/members/transfer-ownership"): Call(body={"user_id": MISSING}),
    ("GET", "/api/v1/orgs/{org_id}/api-keys"): Call(),
    ("POST", "/api/v1/orgs/{org_id}/api-keys"): Call(
        body={"name": "matrix", "scopes": ["members:read"], "expires_at": "2000-01-01T00:00:00Z"}
    ),
    ("DELETE", "/api/v1/orgs/{org_id}/api-keys/{api_key_id}"): Call(path_params={"api_key_id": MISSING}),
    ("GET", "/api/v1/orgs/{org_id}/audit-log"): Call(),
    ("GET", "/api/v1/orgs/{org_id}/features"): Call(),
    ("GET", "/api/v1/orgs/{org_id}/invitations"): Call(),
    ("POST", "/api/v1/orgs/{org_id}/invitations"): Call(
        body={"email": "viewer@acme.example.com", "role": "viewer"}
    ),
    ("DELETE", "/api/v1/orgs/{org_id}/invitations/{invitation_id}"): Call(
        path_params={"invitation_id": MISSING}
    ),
    ("POST", "/api/v1/orgs/{org_id}/customers"): Call(body={"name": ""}),
    ("GET", "/api/v1/orgs/{org_id}/customers"): Call(),
    ("GET", "/api/v1/orgs/{org_id}/customers/{customer_id}"): Call(path_params={"customer_id": MISSING}),
    ("PATCH", "/api/v1/orgs/{org_id}/customers/{customer_id}"): Call(
        path_params={"customer_id": MISSING}, body={"name": "Renamed"}, headers={"If-Match": '"1"'}
    ),
    ("DELETE", "/api/v1/orgs/{org_id}/customers/{customer_id}"): Call(
        path_params={"customer_id": MISSING}, headers={"If-Match": '"1"'}
    ),
    ("POST", "/api/v1/orgs/{org_id}/invoices"): Call(body={}),
    ("GET", "/api/v1/orgs/{org_id}/invoices"): Call(),
    ("GET", "/api/v1/orgs/{org_id}/invoices/export"): Call(params={"format": "ndjson"}),
    ("GET", "/api/v1/orgs/{org_id}/reports/summary"): Call(),
    ("GET", "/api/v1/orgs/{org_id}/reports/aging"): Call(),
    ("GET", "/api/v1/orgs/{org_id}/invoices/{invoice_id}"): Call(path_params={"invoice_id": MISSING}),
    ("PATCH", "/api/v1/orgs/{org_id}/invoices/{invoice_id}"): Call(
        path_params={"invoice_id": MISSING}, body={"memo": "Changed"}, headers={"If-Match": '"1"'}
    ),
    ("DELETE", "/api/v1/orgs/{org_id}/invoices/{invoice_id}"): Call(
        path_params={"invoice_id": MISSING}, headers={"If-Match": '"1"'}
    ),
    ("POST", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/finalize"): Call(
        path_params={"invoice_id": MISSING}
    ),
    ("POST", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/void"): Call(path_params={"invoice_id": MISSING}),
    ("POST", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/payments"): Call(
        path_params={"invoice_id": MISSING},
        body={"amount": "1.00", "method": "cash"},
        headers={"Idempotency-Key": "matrix"},
    ),
    ("GET", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/payments"): Call(
        path_params={"invoice_id": MISSING}
    ),
    ("GET", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/pdf"): Call(path_params={"invoice_id": MISSING}),
    ("POST", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/send"): Call(path_params={"invoice_id": MISSING}),
    ("DELETE", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/link"): Call(path_params={"invoice_id": MISSING}),
    # No body: the invoice is checked first, so every role's answer is decided before it is read.
    ("POST", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/attachments"): Call(
        path_params={"invoice_id": MISSING}
    ),
    ("GET", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/attachments"): Call(
        path_params={"invoice_id": MISSING}
    ),
    ("GET", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/attachments/{attachment_id}/content"): Call(
        path_params={"invoice_id": MISSING, "attachment_id": MISSING}
    ),
    ("DELETE", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/attachments/{attachment_id}"): Call(
        path_params={"invoice_id": MISSING, "attachment_id": MISSING}
    ),
    ("POST", "/api/v1/orgs/{org_id}/webhook-endpoints"): Call(body={"url": "", "event_types": []}),
    ("GET", "/api/v1/orgs/{org_id}/webhook-endpoints"): Call(),
    ("GET", "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}"): Call(
        path_params={"endpoint_id": MISSING}
    ),
    ("PATCH", "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}"): Call(
        path_params={"endpoint_id": MISSING}, body={"enabled": False}, headers={"If-Match": '"1"'}
    ),
    ("DELETE", "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}"): Call(
        path_params={"endpoint_id": MISSING}, headers={"If-Match": '"1"'}
    ),
    ("POST", "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}/rotate-secret"): Call(
        path_params={"endpoint_id": MISSING}
    ),
    ("POST", "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}/ping"): Call(
        path_params={"endpoint_id": MISSING}
    ),
    ("POST", "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}/replay"): Call(
        path_params={"endpoint_id": MISSING}, body={"since": "2026-01-01T00:00:00Z"}
    ),
    ("GET", "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}/deliveries"): Call(
        path_params={"endpoint_id": MISSING}
    ),
    ("GET", "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}"): Call(
        path_params={"endpoint_id": MISSING, "delivery_id": MISSING}
    ),
    ("POST", "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/replay"): Call(
        path_params={"endpoint_id": MISSING, "delivery_id": MISSING}
    ),
    ("GET", "/api/v1/orgs/{org_id}/events"): Call(),
    ("GET", "/api/v1/orgs/{org_id}/events/{event_id}"): Call(path_params={"event_id": MISSING}),
}
# Leaving is not harmless: it is covered by tests/api/test_members.py, for every role.
NOT_IN_MATRIX = {("DELETE", "/api/v1/orgs/{org_id}/members/me")}

DOCUMENT = served_openapi()
TENANT_OPERATIONS = {
    (method, path): operation
    for method, path, operation in operations(DOCUMENT)
    if path.startswith(TENANT_PREFIX) and (method, path) not in NOT_IN_MATRIX
}
