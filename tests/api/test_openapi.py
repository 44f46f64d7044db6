"""The OpenAPI document is a contract: exact problem responses, headers, security, ids, examples.

`tests/conftest.py` also checks, at the end of every run, that each status the API tests saw on
an operation is one the document declares for it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.routing import APIRoute, iter_route_contexts

from app.api.contract import problems, sets_headers
from app.api.dependencies.auth import CurrentPrincipal
from app.api.dependencies.rate_limit import RateLimit
from app.api.problems import PROBLEM_MEDIA_TYPE, Problem
from app.core import errors
from app.main import create_app
from tests.conftest import settings_for_test
from tests.support.openapi import operations, served_openapi
from tests.support.routes import PUBLIC_OPERATIONS

ROOT = Path(__file__).resolve().parents[2]
REDOCLY = ROOT / "node_modules" / ".bin" / "redocly"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# The ids generated clients name their functions after: a change here breaks their callers.
OPERATION_IDS = {
    ("GET", "/livez"): "health-livez",
    ("GET", "/readyz"): "health-readyz",
    ("GET", "/.well-known/jwks.json"): "auth-jwks",
    ("POST", "/api/v1/auth/token"): "auth-issue_token",
    ("POST", "/api/v1/auth/signup"): "auth-signup",
    ("POST", "/api/v1/auth/verify-email"): "auth-verify_email",
    ("POST", "/api/v1/auth/refresh"): "auth-refresh",
    ("POST", "/api/v1/auth/revoke"): "auth-revoke_token",
    ("POST", "/api/v1/auth/password/forgot"): "auth-forgot_password",
    ("POST", "/api/v1/auth/password/reset"): "auth-reset_password",
    ("POST", "/api/v1/auth/session"): "auth-start_browser_session",
    ("DELETE", "/api/v1/auth/session"): "auth-end_browser_session",
    ("POST", "/api/v1/auth/logout"): "auth-logout",
    ("POST", "/api/v1/auth/logout-all"): "auth-logout_all",
    ("GET", "/api/v1/auth/sessions"): "auth-list_sessions",
    ("DELETE", "/api/v1/auth/sessions/{session_id}"): "auth-end_session",
    ("GET", "/api/v1/users/me"): "users-read_me",
    ("PATCH", "/api/v1/users/me"): "users-update_me",
    ("POST", "/api/v1/users/me/password"): "users-change_password",
    ("POST", "/api/v1/admin/users/{user_id}/deactivate"): "admin-deactivate_user",
    ("POST", "/api/v1/admin/users/{user_id}/reactivate"): "admin-reactivate_user",
    ("GET", "/api/v1/orgs"): "organizations-list_organizations",
    ("POST", "/api/v1/orgs"): "organizations-create_organization",
    ("GET", "/api/v1/orgs/{org_id}"): "organizations-read_organization",
    ("PATCH", "/api/v1/orgs/{org_id}"): "organizations-update_organization",
    ("DELETE", "/api/v1/orgs/{org_id}"): "organizations-delete_organization",
    ("GET", "/api/v1/orgs/{org_id}/members"): "members-list_members",
    ("GET", "/api/v1/orgs/{org_id}/members/{user_id}"): "members-read_member",
    ("PATCH", "/api/v1/orgs/{org_id}/members/{user_id}"): "members-change_member_role",
    ("DELETE", "/api/v1/orgs/{org_id}/members/{user_id}"): "members-remove_member",
    ("DELETE", "/api/v1/orgs/{org_id}/members/me"): "members-leave_organization",
    ("POST", "/api/v1/orgs/{org_id}/members/transfer-ownership"): "members-transfer_ownership",
    ("GET", "/api/v1/orgs/{org_id}/api-keys"): "api-keys-list_api_keys",
    ("POST", "/api/v1/orgs/{org_id}/api-keys"): "api-keys-create_api_key",
    ("DELETE", "/api/v1/orgs/{org_id}/api-keys/{api_key_id}"): "api-keys-revoke_api_key",
    ("GET", "/api/v1/orgs/{org_id}/audit-log"): "audit-list_audit_log",
    ("POST", "/api/v1/orgs/{org_id}/customers"): "customers-create_customer",
    ("GET", "/api/v1/orgs/{org_id}/customers"): "customers-list_customers",
    ("GET", "/api/v1/orgs/{org_id}/customers/{customer_id}"): "customers-get_customer",
    ("PATCH", "/api/v1/orgs/{org_id}/customers/{customer_id}"): "customers-update_customer",
    ("DELETE", "/api/v1/orgs/{org_id}/customers/{customer_id}"): "customers-delete_customer",
    ("POST", "/api/v1/orgs/{org_id}/invoices"): "invoices-create_invoice",
    ("GET", "/api/v1/orgs/{org_id}/invoices"): "invoices-list_invoices",
    ("GET", "/api/v1/orgs/{org_id}/invoices/export"): "exports-export_invoices",
    ("GET", "/api/v1/orgs/{org_id}/reports/summary"): "reports-report_summary",
    ("GET", "/api/v1/orgs/{org_id}/reports/aging"): "reports-report_aging",
    ("GET", "/api/v1/orgs/{org_id}/invoices/{invoice_id}"): "invoices-get_invoice",
    ("PATCH", "/api/v1/orgs/{org_id}/invoices/{invoice_id}"): "invoices-update_invoice",
    ("DELETE", "/api/v1/orgs/{org_id}/invoices/{invoice_id}"): "invoices-delete_invoice",
    ("POST", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/finalize"): "invoices-finalize_invoice",
    ("POST", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/void"): "invoices-void_invoice",
    ("GET", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/pdf"): "invoices-get_invoice_pdf",
    ("POST", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/send"): "invoices-send_invoice",
    ("DELETE", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/link"): "invoices-revoke_invoice_links",
    ("POST", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/payments"): "payments-create_payment",
    ("GET", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/payments"): "payments-list_payments",
    ("POST", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/attachments"): "attachments-upload_attachment",
    ("GET", "/api/v1/orgs/{org_id}/invoices/{invoice_id}/attachments"): "attachments-list_attachments",
    (
        "GET",
        "/api/v1/orgs/{org_id}/invoices/{invoice_id}/attachments/{attachment_id}/content",
    ): "attachments-download_attachment",
    (
        "DELETE",
        "/api/v1/orgs/{org_id}/invoices/{invoice_id}/attachments/{attachment_id}",
    ): "attachments-delete_attachment",
    ("GET", "/api/v1/orgs/{org_id}/events"): "events-list_events",
    ("GET", "/api/v1/orgs/{org_id}/events/{event_id}"): "events-get_event",
    ("POST", "/api/v1/orgs/{org_id}/webhook-endpoints"): "webhooks-create_webhook_endpoint",
    ("GET", "/api/v1/orgs/{org_id}/webhook-endpoints"): "webhooks-list_webhook_endpoints",
    ("GET", "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}"): "webhooks-get_webhook_endpoint",
    ("PATCH", "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}"): "webhooks-update_webhook_endpoint",
    ("DELETE", "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}"): "webhooks-delete_webhook_endpoint",
    (
        "POST",
        "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}/rotate-secret",
    ): "webhooks-rotate_webhook_secret",
    ("POST", "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}/ping"): "webhooks-ping_webhook_endpoint",
    (
        "POST",
        "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}/replay",
    ): "webhooks-replay_webhook_endpoint",
    (
        "GET",
        "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}/deliveries",
    ): "webhooks-list_webhook_deliveries",
    (
        "GET",
        "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}",
    ): "webhooks-get_webhook_delivery",
    (
        "POST",
        "/api/v1/orgs/{org_id}/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/replay",
    ): "webhooks-replay_webhook_delivery",
    ("GET", "/api/v1/orgs/{org_id}/features"): "organizations-read_features",
    ("POST", "/api/v1/orgs/{org_id}/invitations"): "invitations-create_invitation",
    ("GET", "/api/v1/orgs/{org_id}/invitations"): "invitations-list_invitations",
    ("DELETE", "/api/v1/orgs/{org_id}/invitations/{invitation_id}"): "invitations-revoke_invitation",
    ("POST", "/api/v1/invitations/accept"): "invitations-accept_invitation",
    ("POST", "/api/v1/invitations/signup"): "invitations-sign_up_with_invitation",
}


@pytest.fixture
def document() -> dict[str, Any]:
    """Built for each test (0.1 s): mutation testing credits a module-scoped fixture's work to
    the first test that asked for it only, so a broken security scheme went unnoticed there."""
    return served_openapi()


def walk(node: Any, path: str = "#") -> list[tuple[str, Any]]:
    """Every (JSON pointer, value) in the document."""
    found = [(path, node)]
    if isinstance(node, dict):
        for key, value in node.items():
            found += walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += walk(value, f"{path}/{index}")
    return found


def test_operation_ids_are_tag_and_function_and_do_not_change(document: dict[str, Any]) -> None:
    ids = {(method, path): operation["operationId"] for method, path, operation in operations(document)}
    assert ids == OPERATION_IDS
    assert len(set(ids.values())) == len(ids)


def test_every_operation_has_a_summary_and_a_description(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        assert len(operation.get("summary", "")) > 10, (method, path)
        assert len(operation.get("description", "")) > 20, (method, path)


def test_examples_are_the_plural_kind(document: dict[str, Any]) -> None:
    """OpenAPI 3.1 deprecates a schema's singular `example`; this document uses `examples`."""
    assert [pointer for pointer, _ in walk(document) if pointer.endswith("/example")] == []


def test_every_request_body_has_examples_the_api_accepts(document: dict[str, Any]) -> None:
    """Each body's examples pass the very validation the route applies (pydantic, not a copy)."""
    schemas = document["components"]["schemas"]
    app = create_app(settings_for_test())
    checked = 0
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or route.body_field is None:
            continue
        if not route.original_route.include_in_schema:  # the HTML pages emailed links open
            continue
        for method in route.methods or ():
            operation = document["paths"][route.path_format][method.lower()]
            [(media_type, content)] = operation["requestBody"]["content"].items()
            schema = schemas[content["schema"]["$ref"].rsplit("/", 1)[-1]]
            if media_type == "application/json":
                bodies = schema["examples"]
            else:  # a form: each field has its examples
                fields: dict[str, Any] = schema["properties"]
                assert all(fields[name].get("examples") for name in schema["required"]), route.path_format
                bodies = [{key: field["examples"][0] for key, field in fields.items() if "examples" in field}]
            for body in bodies:
                _, problems_found = route.body_field.validate(body, {}, loc=("body",))
                assert problems_found == [], (route.path_format, body)
                checked += 1
    assert checked >= 10


def test_problem_responses_are_problem_documents_from_the_catalogue(document: dict[str, Any]) -> None:
    catalogue = {cls.code: cls for cls in errors.catalogue()}
    for method, path, operation in operations(document):
        problem_statuses = [status for status in operation["responses"] if status[0] in "45"]
        assert any(status.startswith("4") for status in problem_statuses), (method, path)
        for status in problem_statuses:
            response = operation["responses"][status]
            content = response["content"][PROBLEM_MEDIA_TYPE]
            assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
            assert response["headers"]["X-Request-ID"]["required"] is True
            for code, example in content["examples"].items():
                problem = Problem.model_validate(example["value"])
                assert (problem.code, problem.status) == (code, int(status))
                assert catalogue[code].status == int(status)
                assert f"`{code}`" in response["description"]


def test_every_operation_declares_what_any_request_can_meet(document: dict[str, Any]) -> None:
    """Server overload, body limit, timeout, unexpected error: every operation, from the stack."""
    for method, path, operation in operations(document):
        codes = {
            code
            for status, response in operation["responses"].items()
            for code in response.get("content", {}).get(PROBLEM_MEDIA_TYPE, {}).get("examples", {})
        }
        assert codes >= {
            "bad_request",
            "payload_too_large",
            "internal_error",
            "service_unavailable",
            "request_timeout",
        }, (method, path)


def test_dependencies_declare_their_problems(document: dict[str, Any]) -> None:
    def codes(method: str, path: str, status: str) -> set[str]:
        response = document["paths"][path][method]["responses"].get(status)
        return set(response["content"][PROBLEM_MEDIA_TYPE]["examples"]) if response else set()

    assert codes("get", "/api/v1/users/me", "401") == {"unauthenticated", "invalid_token"}
    # CSRF guards only writes; an API key is refused on a person's own account
    assert codes("get", "/api/v1/users/me", "403") == {"api_key_not_allowed"}
    assert codes("patch", "/api/v1/users/me", "403") == {"csrf_failed", "api_key_not_allowed"}
    assert codes("post", "/api/v1/admin/users/{user_id}/deactivate", "403") == {
        "csrf_failed",
        "permission_denied",
        "api_key_not_allowed",
    }
    assert codes("post", "/api/v1/auth/signup", "429") == {"rate_limited"}
    assert codes("post", "/api/v1/auth/signup", "401") == set()
    assert codes("get", "/api/v1/users/me", "422") == set()  # takes no input
    assert codes("get", "/api/v1/auth/sessions", "422") == {"validation_error"}
    token = {status: codes("post", "/api/v1/auth/token", status) for status in ("400", "401", "422")}
    assert token["400"] >= {"invalid_credentials", "email_not_verified", "invalid_token_request"}
    assert token["400"] >= {"unsupported_grant_type"}
    assert token["401"] == token["422"] == set()  # RFC 6749 §5.2: failed grants and bad input are 400


def test_headers_are_declared_where_they_are_sent(document: dict[str, Any]) -> None:
    token = document["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert {name for name, header in token["200"]["headers"].items() if header["required"]} == {
        "X-Request-ID",
        "RateLimit",
        "RateLimit-Policy",
        "Cache-Control",
        "Pragma",
    }
    assert {name for name, header in token["429"]["headers"].items() if header["required"]} >= {
        "Retry-After",
        "RateLimit",
        "RateLimit-Policy",
        "Cache-Control",
    }
    assert token["503"]["headers"]["Retry-After"]["required"] is True
    me = document["paths"]["/api/v1/users/me"]["get"]["responses"]
    assert me["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert me["200"]["headers"]["Cache-Control"]["required"] is True
    # readyz answers 503 in its own format too, without Retry-After: the header is not promised.
    readyz = document["paths"]["/readyz"]["get"]["responses"]["503"]
    assert set(readyz["content"]) == {"application/health+json", PROBLEM_MEDIA_TYPE}
    assert readyz["headers"]["Retry-After"]["required"] is False


def test_security_is_a_bearer_token_or_the_browser_session(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["BrowserSession"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "invoicer_session",
        "description": schemes["BrowserSession"]["description"],
    }
    assert (schemes["CsrfToken"]["in"], schemes["CsrfToken"]["name"]) == ("header", "X-CSRF-Token")
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    for method, path, operation in operations(document):
        if (method, path) in PUBLIC_OPERATIONS:
            assert operation["security"] == [], (method, path)
            continue
        browser: dict[str, list[str]] = {
            "BrowserSession": [],
            **({"CsrfToken": []} if method in UNSAFE_METHODS else {}),
        }
        # An organization's own routes also take its API keys.
        keys: list[dict[str, list[str]]] = (
            [{"ApiKey": []}] if path.startswith("/api/v1/orgs/{org_id}") else []
        )
        assert operation["security"] == [{"OAuth2PasswordBearer": []}, browser, *keys], (method, path)
    assert schemes["ApiKey"]["scheme"] == "bearer"


def test_the_document_names_its_server_and_license(document: dict[str, Any]) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert document["info"]["license"]["identifier"] == declared
    assert document["servers"] == [{"url": "/", "description": document["servers"][0]["description"]}]


def test_later_routes_inherit_declarations_and_declare_their_headers() -> None:
    """What a tenant route written later gets by using the building blocks."""

    def add_routes(app: FastAPI) -> None:
        router = APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["invoices"])

        @router.post(
            "/invoices",
            status_code=201,
            summary="Create an invoice",
            description="For the contract test.",
            dependencies=[Depends(RateLimit("signup"))],
            responses={
                **problems(errors.NotFoundError, errors.ConflictError),
                **sets_headers(201, "Location", "ETag"),
            },
        )
        async def create_invoice(org_id: int, principal: CurrentPrincipal, response: Response) -> None:
            """Nothing: only the document is looked at."""

        app.include_router(router)

    app = create_app(settings_for_test())
    add_routes(app)
    operation = app.openapi()["paths"]["/api/v1/orgs/{org_id}/invoices"]["post"]
    responses = operation["responses"]
    assert operation["operationId"] == "invoices-create_invoice"
    problem_codes = {
        code: status
        for status, response in responses.items()
        for code in response.get("content", {}).get(PROBLEM_MEDIA_TYPE, {}).get("examples", {})
    }
    assert problem_codes.items() >= {
        ("unauthenticated", "401"),
        ("csrf_failed", "403"),
        ("not_found", "404"),
        ("conflict", "409"),
        ("validation_error", "422"),
        ("rate_limited", "429"),
    }
    assert {name for name, header in responses["201"]["headers"].items() if header["required"]} == {
        "X-Request-ID",
        "Location",
        "ETag",
        "RateLimit",
        "RateLimit-Policy",
        "Cache-Control",
    }
    assert operation["security"] == [{"OAuth2PasswordBearer": []}, {"BrowserSession": [], "CsrfToken": []}]
    with pytest.raises(ValueError, match="RESPONSE_HEADERS"):
        sets_headers(200, "X-Unknown")


@pytest.mark.slow
def test_redocly_recommended_rules_pass_without_errors_or_warnings(
    document: dict[str, Any], tmp_path: Path
) -> None:
    """Redocly CLI (pinned in package.json) lints the served document with its `recommended` rules."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed: Redocly CLI needs it (CI has it)")
    assert REDOCLY.exists(), "Redocly CLI is missing: run `npm ci` (or `make node`) at the repository root"
    served = tmp_path / "openapi.json"
    served.write_text(json.dumps(document))
    result = subprocess.run(
        [str(REDOCLY), "lint", "--extends=recommended", "--format=json", str(served)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(result.stdout)
    found = [f"{item['severity']} {item['ruleId']}: {item['message']}" for item in report["problems"]]
    assert found == []
    assert result.returncode == 0, result.stderr
