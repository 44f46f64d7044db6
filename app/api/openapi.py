"""The OpenAPI document: FastAPI's, completed from what each part of the API declares.

On top of what FastAPI derives from the routes (paths, parameters, bodies, success schemas),
`build_openapi` adds, per operation and from declarations rather than per-route prose:
- every problem response it can give (app/api/contract.py: its dependencies, its route's own
  `problems(...)`, request validation if it takes input, the middleware stack, the server),
  each with the Problem schema, one example per code, and the headers that come with it;
- `X-Request-ID` on every response, and the headers its dependencies set on success;
- its security requirements (a bearer token, or the browser session with its CSRF header),
  and an explicit empty one on public operations.
Operation ids are `<tag>-<function name>` (`auth-issue_token`), so generated clients get
readable, stable method names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from importlib import metadata
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from app.api.contract import Declares, Operation, ProblemDeclaration, declared_by, response_header
from app.api.problems import PROBLEM_MEDIA_TYPE, Problem, example_body, is_uncacheable
from app.core.config import Settings
from app.core.errors import AppError, ValidationFailedError
from app.server import REQUEST_REFUSALS

DESCRIPTION = """
Invoicer is a multi-tenant invoicing API.

* Base path `/api/v1`; tenant routes live under `/api/v1/orgs/{org_id}/...`.
* Every error is an RFC 9457 problem document (`application/problem+json`) with a stable
  `code` and the `request_id`; validation problems list each bad field in `errors`. Each
  operation lists the problems it can return; the codes are described in docs/problems.md.
* Every response carries `X-Request-ID`; send your own (20-200 chars of `[A-Za-z0-9+/=_-]`)
  to correlate with your logs.
* Sign in with a bearer token (`POST /api/v1/auth/token`, OAuth2 password grant) or, in a
  browser, with the session cookie (`POST /api/v1/auth/session`), which needs the
  `X-CSRF-Token` header on every POST/PUT/PATCH/DELETE.
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
        "name": "organizations",
        "description": "The tenants. Everything under `/orgs/{org_id}/` is visible to its members only "
        "(anyone else gets 404), and each operation names the permission it needs in "
        "`x-required-permissions` (docs/permissions.md has the role table).",
    },
    {"name": "members", "description": "Who belongs to an organization, with which role."},
    {
        "name": "api-keys",
        "description": "Credentials for programs: `Authorization: Bearer ik_...`, valid only under "
        "their organization's `/orgs/{org_id}/`, with the scopes they were given.",
    },
    {
        "name": "admin",
        "description": "Platform administration, for Invoicer's operators (`invoicer grant-platform-admin`).",
    },
    {
        "name": "invitations",
        "description": "Joining an organization by an emailed, single-use link: accepted signed in, "
        "or used to sign up.",
    },
    {"name": "audit", "description": "The append-only record of every change in an organization."},
    {
        "name": "events",
        "description": "Every state change of an organization's objects, each with the object as the "
        "API returned it: the transactional outbox, readable.",
    },
    {
        "name": "exports",
        "description": "Invoices as downloads (CSV, NDJSON), streamed, with the list's filters.",
    },
    {
        "name": "reports",
        "description": "Figures per currency (invoiced, paid, outstanding, overdue, aging), exact, "
        "cached briefly and invalidated by every change they count.",
    },
    {"name": "health", "description": "Liveness and readiness probes (application/health+json)."},
]
# Relative: the server that serves this document (behind a path prefix, FastAPI puts the
# root path first).
SERVERS = [{"url": "/", "description": "The server that serves this document."}]
SUCCESS_HEADERS = ("X-Request-ID",)

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def license_info() -> dict[str, str]:
    """The license the package declares (pyproject.toml), as an SPDX identifier."""
    package = metadata.metadata("invoicer")
    spdx = package["License-Expression"] or package["License"]
    return {"name": f"{spdx} License", "identifier": spdx}


@dataclass
class _Contract:
    """What one operation declares, gathered from everything it goes through."""

    problems: list[type[AppError]] = field(default_factory=list)
    success_headers: list[str] = field(default_factory=list)
    optional_success_headers: list[str] = field(default_factory=list)
    required_headers: list[str] = field(default_factory=list)
    security: list[dict[str, list[str]]] = field(default_factory=list)
    security_schemes: dict[str, Any] = field(default_factory=dict)
    extensions: dict[str, list[str]] = field(default_factory=dict)

    def add(self, declares: Declares) -> None:
        self.problems.extend(error for error in declares.problems if error not in self.problems)
        self.success_headers.extend(
            name for name in declares.success_headers if name not in self.success_headers
        )
        self.optional_success_headers.extend(
            name for name in declares.optional_success_headers if name not in self.optional_success_headers
        )
        self.required_headers.extend(
            name for name in declares.required_headers if name not in self.required_headers
        )
        for requirement in declares.security:
            if requirement not in self.security:
                self.security.append(dict(requirement))
        self.security_schemes.update(declares.security_schemes)
        for name, values in declares.extensions.items():
            joined = self.extensions.setdefault(name, [])
            joined.extend(value for value in values if value not in joined)


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _takes_input(dependant: Dependant) -> bool:
    return any(
        sub.path_params or sub.query_params or sub.header_params or sub.cookie_params or sub.body_params
        for sub in _dependants(dependant)
    )


def _contract(app: FastAPI, route: RouteContext, operation: Operation) -> _Contract:
    contract = _Contract()
    # The outer layers first: the server and the middleware refuse before any route runs.
    contract.add(Declares(problems=REQUEST_REFUSALS))
    for middleware in app.user_middleware:
        refusals = getattr(middleware.cls, "refusals", None)
        if refusals is not None:
            contract.add(Declares(problems=refusals(operation.path, middleware.kwargs)))
    dependant: Dependant = route.dependant
    if _takes_input(dependant):
        original = route.original_route
        contract.add(Declares(problems=getattr(original, "validation_problems", (ValidationFailedError,))))
    for sub in _dependants(dependant):
        declaration = declared_by(sub.call) if sub.call is not None else None
        if declaration is not None:
            contract.add(declaration(operation))
    for declared in route.responses.values():
        if isinstance(declared, ProblemDeclaration):
            contract.add(Declares(problems=declared.errors))
    return contract


def _problem_response(
    status: int, errors: list[type[AppError]], existing: dict[str, Any] | None
) -> dict[str, Any]:
    """One response per status: its codes, their examples, and the headers all of them send."""
    lines = [f"`{error.code}`: {error.when}" for error in errors]
    description = f"{HTTPStatus(status).phrase}. " + "; ".join(lines) + "."
    always = set.intersection(*(set(error.sends_headers) for error in errors))
    sometimes = set().union(*(error.sends_headers for error in errors)) - always
    if is_uncacheable(status):
        always.add("Cache-Control")
    if existing is not None:
        # The route answers this status in its own format too: only what both send is certain.
        sometimes |= always - set(existing.get("headers", {}))
        always &= set(existing.get("headers", {}))
    response = existing or {}
    response["description"] = f"{existing['description']} {description}" if existing else description
    headers = response.setdefault("headers", {})
    for name in sorted(always):
        headers[name] = response_header(name, required=True)
    for name in sorted(sometimes):
        headers.setdefault(name, response_header(name, required=False))
    response.setdefault("content", {})[PROBLEM_MEDIA_TYPE] = {
        "schema": _PROBLEM_REF,
        "examples": {error.code: {"summary": error.title, "value": example_body(error)} for error in errors},
    }
    return response


def _complete_operation(
    app: FastAPI, route: RouteContext, method: str, document: dict[str, Any], settings: Settings
) -> None:
    path = str(route.path_format)
    operation = document["paths"][path][method.lower()]
    contract = _contract(app, route, Operation(method=method, path=path, settings=settings))
    responses: dict[str, Any] = operation["responses"]
    # FastAPI documents 422 with its own {"detail": [...]} shape, which we never send, and
    # renders `problems(...)` entries with a placeholder: both are rebuilt below.
    declared = {
        str(status) for status, value in route.responses.items() if isinstance(value, ProblemDeclaration)
    }
    for status in list(responses):
        if status in declared or (status == "422" and "HTTPValidationError" in str(responses[status])):
            del responses[status]
    for status, response in responses.items():
        headers = response.setdefault("headers", {})
        for name in SUCCESS_HEADERS:
            headers.setdefault(name, response_header(name, required=True))
        if status.startswith("2"):
            for name in contract.success_headers:
                headers.setdefault(name, response_header(name, required=True))
            for name in contract.optional_success_headers:
                headers.setdefault(name, response_header(name, required=False))
    by_status: dict[int, list[type[AppError]]] = {}
    for error in contract.problems:
        by_status.setdefault(error.status, []).append(error)
    for problem_status in sorted(by_status):
        key = str(problem_status)
        problem = _problem_response(problem_status, by_status[problem_status], responses.get(key))
        problem["headers"].setdefault("X-Request-ID", response_header("X-Request-ID", required=True))
        responses[key] = problem
    operation["responses"] = dict(sorted(responses.items()))
    operation["security"] = contract.security
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "header" and parameter["name"] in contract.required_headers:
            parameter["required"] = True
    for name, values in contract.extensions.items():
        operation[name] = sorted(values)
    document.setdefault("components", {}).setdefault("securitySchemes", {}).update(contract.security_schemes)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """Generated once, then cached on the app (FastAPI's own convention)."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=SERVERS,
        license_info=license_info(),
    )
    components = document.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    components["Problem"] = problem_schema
    settings: Settings = app.state.settings
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            for method in sorted(route.methods or ()):
                _complete_operation(app, route, method, document, settings)
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    app.openapi_schema = document
    return document
