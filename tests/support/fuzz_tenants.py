"""What the fuzzer needs to reach the tenant routes' handlers: real ids, and things to spend.

Generated ids name nothing, so without help every tenant operation would only ever answer 404.
Every other valid case gets values only the server knows: the seeded organization (Acme, of
which the fuzzing admin is the owner) and one of its members, or, for the operations that spend
what they act on (deleting an organization, leaving it, handing it over, removing a member,
revoking a key, changing or deleting a customer or an attachment), something made for that
one case; an upload gets a real PNG in place of the generated file. An event
is read only, so every case reads the same one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from app.core.permissions import Role
from tests.support.attachments import png_bytes
from tests.support.factories import add_member, add_membership, make_invitation, make_user

Operation = tuple[str, str]
ORG = "/api/v1/orgs/{org_id}"
# Public in form, never resolving (RFC 2606 `.invalid`): registration admits it, deliveries fail.
FUZZ_WEBHOOK_URL = "https://hooks.fuzz.invalid/invoicer"


@dataclass
class TenantValues:
    base_url: str
    owner_database_url: str  # rows no API call can make yet (a second member of a new organization)
    token: Callable[[], str]
    member_id: str
    _acme_id: str | None = None
    _event_id: str | None = None

    admin_email: str = ""

    def handles(self, operation: Operation) -> bool:
        return operation[1].startswith(ORG) or operation[1].startswith("/api/v1/invitations/")

    def fill_answer(self, case: Any, operation: Operation) -> None:
        """An invitation's answer: a fresh invitation to the admin (from an organization they are
        not in), or to a new address for a sign-up."""
        if not isinstance(case.body, dict):
            return
        if operation == ("POST", "/api/v1/invitations/accept"):
            stranger = asyncio.run(
                make_user(
                    self.owner_database_url,
                    f"fuzz-owner-{uuid.uuid4().hex[:12]}@example.com",
                    organization="Elsewhere",
                )
            )
            assert stranger.org_id is not None
            case.body["token"] = asyncio.run(
                make_invitation(self.owner_database_url, org_id=stranger.org_id, email=self.admin_email)
            )
        elif operation == ("POST", "/api/v1/invitations/signup"):
            case.body["token"] = asyncio.run(
                make_invitation(
                    self.owner_database_url,
                    org_id=uuid.UUID(self.acme_id),
                    email=f"fuzz-new-{uuid.uuid4().hex[:12]}@example.com",
                )
            )
            password = str(case.body.get("password", ""))
            case.body["password"] = (password + "-padded to a long enough password")[:200]

    def fill(self, case: Any, operation: Operation) -> None:
        path = operation[1]
        if not path.startswith(ORG):
            self.fill_answer(case, operation)
            return
        case.path_parameters["org_id"] = self.acme_id
        if path.startswith((f"{ORG}/customers", f"{ORG}/invoices", f"{ORG}/events")):
            self._fill_billing(case, operation)
        elif path.startswith(f"{ORG}/webhook-endpoints"):
            self._fill_webhooks(case, operation)
        elif operation == ("DELETE", ORG):
            org_id, slug = self._new_organization(second_owner=False)
            case.path_parameters["org_id"] = org_id
            case.query = {**(case.query or {}), "confirm": slug}
        elif operation == ("DELETE", f"{ORG}/members/me"):
            case.path_parameters["org_id"], _ = self._new_organization(second_owner=True)
        elif operation == ("POST", f"{ORG}/members/transfer-ownership"):
            case.path_parameters["org_id"], _ = self._new_organization(second_owner=False)
            case.body = {"user_id": self.member_id}
        elif operation == ("DELETE", f"{ORG}/members/{{user_id}}"):
            case.path_parameters["user_id"] = self._new_member()
        elif path == f"{ORG}/members/{{user_id}}":
            case.path_parameters["user_id"] = self.member_id
        elif operation == ("DELETE", f"{ORG}/invitations/{{invitation_id}}"):
            case.path_parameters["invitation_id"] = self._new_invitation()
        elif operation == ("DELETE", f"{ORG}/api-keys/{{api_key_id}}"):
            case.path_parameters["api_key_id"] = self._new_key()
        elif operation == ("POST", f"{ORG}/api-keys") and isinstance(case.body, dict):
            case.body["scopes"] = ["members:read"]
            case.body.pop("expires_at", None)

    def _fill_billing(self, case: Any, operation: Operation) -> None:
        """Customers, invoices, events: objects of their own, and their current ETags."""
        path = operation[1]
        etag = None
        if path == f"{ORG}/customers/{{customer_id}}":
            # A customer of its own per case (PATCH and DELETE spend it).
            case.path_parameters["customer_id"], etag = self._new_customer()
        elif "{invoice_id}" in path:
            # A draft of its own per case (PATCH, DELETE and the transitions spend it); an open
            # invoice for payments and for the PDF (a draft has none).
            # An invoice is sent to its customer's address: one with an email, for `/send`.
            case.path_parameters["invoice_id"], etag = self._new_invoice(
                opened=path.endswith(("/payments", "/pdf", "/send")), email=path.endswith("/send")
            )
        elif path == f"{ORG}/events/{{event_id}}":
            case.path_parameters["event_id"] = self.event_id
        if "{attachment_id}" in path:
            # An attachment of its own per case, on that invoice (DELETE spends it).
            case.path_parameters["attachment_id"] = self._new_attachment(case.path_parameters["invoice_id"])
        if etag is not None and operation[0] in ("PATCH", "DELETE"):
            case.headers = {**(case.headers or {}), "If-Match": etag}
        if operation == ("POST", f"{ORG}/invoices/{{invoice_id}}/payments") and isinstance(case.body, dict):
            # An amount the open invoice (10.00 EUR due) takes, a moment in the past, and a key of
            # its own: otherwise nearly every generated payment is refused for its value alone.
            case.body["amount"] = "1.00"
            case.body.pop("paid_at", None)
            case.headers = {**(case.headers or {}), "Idempotency-Key": str(uuid.uuid4())}
        if isinstance(case.body, dict) and "customer_id" in case.body:
            # A real customer, so that a body otherwise valid is one the API accepts.
            case.body["customer_id"], _ = self._new_customer()

    def _fill_webhooks(self, case: Any, operation: Operation) -> None:
        """An endpoint of its own per case (PATCH, DELETE and rotation spend it), a ping of it
        for the delivery routes, and a URL the SSRF rules admit (it never resolves: `.invalid`)."""
        path = operation[1]
        if "{endpoint_id}" in path:
            case.path_parameters["endpoint_id"], etag = self._new_endpoint()
            if operation[0] in ("PATCH", "DELETE"):
                case.headers = {**(case.headers or {}), "If-Match": etag}
        if "{delivery_id}" in path:
            case.path_parameters["delivery_id"] = self._new_ping(case.path_parameters["endpoint_id"])
        if isinstance(case.body, dict) and "url" in case.body:
            case.body["url"] = FUZZ_WEBHOOK_URL

    def _new_endpoint(self) -> tuple[str, str]:
        created = self._call(
            "POST",
            f"/api/v1/orgs/{self.acme_id}/webhook-endpoints",
            json={"url": FUZZ_WEBHOOK_URL, "event_types": ["invoice.paid"]},
        )
        return str(created.json()["id"]), created.headers["ETag"]

    def _new_ping(self, endpoint_id: str) -> str:
        sent = self._call("POST", f"/api/v1/orgs/{self.acme_id}/webhook-endpoints/{endpoint_id}/ping")
        return str(sent.json()["id"])

    @property
    def acme_id(self) -> str:
        if self._acme_id is None:
            listed = self._call("GET", "/api/v1/orgs").json()
            [acme] = [item["id"] for item in listed["items"] if item["slug"] == "acme"]
            self._acme_id = str(acme)
        return self._acme_id

    @property
    def event_id(self) -> str:
        """An event of Acme's: the one its first customer made here."""
        if self._event_id is None:
            self._new_customer()
            listed = self._call("GET", f"/api/v1/orgs/{self.acme_id}/events", params={"limit": 1}).json()
            self._event_id = str(listed["items"][0]["id"])
        return self._event_id

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = httpx.request(
            method,
            f"{self.base_url}{path}",
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=10,
            **kwargs,
        )
        assert response.is_success, response.text
        return response

    def _new_organization(self, *, second_owner: bool) -> tuple[str, str]:
        """The admin's own new organization, with the seeded member in it."""
        created = self._call("POST", "/api/v1/orgs", json={"name": f"Fuzz {uuid.uuid4().hex[:8]}"}).json()
        asyncio.run(
            add_membership(
                self.owner_database_url,
                org_id=uuid.UUID(created["id"]),
                user_id=uuid.UUID(self.member_id),
                role=Role.OWNER if second_owner else Role.MEMBER,
            )
        )
        return str(created["id"]), str(created["slug"])

    def _new_member(self) -> str:
        member = asyncio.run(
            add_member(
                self.owner_database_url,
                org_id=uuid.UUID(self.acme_id),
                email=f"fuzz-{uuid.uuid4().hex[:12]}@acme.example.com",
                role=Role.VIEWER,
            )
        )
        return str(member.id)

    def _new_invitation(self) -> str:
        created = self._call(
            "POST",
            f"/api/v1/orgs/{self.acme_id}/invitations",
            json={"email": f"fuzz-invitee-{uuid.uuid4().hex[:12]}@example.com", "role": "viewer"},
        )
        return str(created.json()["id"])

    def _new_customer(self, *, email: bool = False) -> tuple[str, str]:
        body = {"name": "Fuzzed", **({"email": "billing@fuzzed.example.com"} if email else {})}
        created = self._call("POST", f"/api/v1/orgs/{self.acme_id}/customers", json=body)
        return str(created.json()["id"]), created.headers["ETag"]

    def _new_invoice(self, *, opened: bool = False, email: bool = False) -> tuple[str, str]:
        customer_id, _ = self._new_customer(email=email)
        created = self._call(
            "POST",
            f"/api/v1/orgs/{self.acme_id}/invoices",
            json={
                "customer_id": customer_id,
                "currency": "EUR",
                "issue_date": "2026-11-01",
                "due_date": "2026-12-01",
                "line_items": [{"description": "Fuzzed", "quantity": "1", "unit_price": "10.00"}],
            },
        )
        if opened:
            created = self._call(
                "POST", f"/api/v1/orgs/{self.acme_id}/invoices/{created.json()['id']}/finalize"
            )
        return str(created.json()["id"]), created.headers["ETag"]

    def _new_attachment(self, invoice_id: str) -> str:
        created = self._call(
            "POST",
            f"/api/v1/orgs/{self.acme_id}/invoices/{invoice_id}/attachments",
            data={"description": "Fuzzed", "kind": "other"},
            files={"file": ("fuzzed.png", png_bytes(), "image/png")},
        )
        return str(created.json()["id"])

    def _new_key(self) -> str:
        created = self._call(
            "POST",
            f"/api/v1/orgs/{self.acme_id}/api-keys",
            json={"name": "to revoke", "scopes": ["members:read"]},
        )
        return str(created.json()["id"])
