"""What a request matched, for logs and metrics: the route template, never the raw path."""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import Mount
from starlette.types import Scope

UNMATCHED = "<unmatched>"
_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")  # `{user_id}` or `{rest:path}`


def route_template(scope: Scope) -> str:
    """The full template of the matched route (`/api/v1/users/{user_id}`): bounded labels.

    FastAPI includes routers lazily (0.165+): a route's own `path` lacks the prefixes of the
    routers it was included through. They are recovered from the request path, which ends
    with the route's path filled in with its parameters.
    """
    route = scope.get("route") or _plain_route(scope)
    path = getattr(route, "path_format" if isinstance(route, Mount) else "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    params = {name: str(value) for name, value in scope.get("path_params", {}).items()}
    filled = _PARAMETER.sub(lambda match: params.get(match.group(1), match.group(0)), path)
    request_path: str = scope.get("path", "")
    if filled and request_path.endswith(filled):
        return request_path[: len(request_path) - len(filled)] + path
    return path


def _plain_route(scope: Scope) -> Any:
    """A route or mount added to the app itself (the OpenAPI document, the docs' assets).

    FastAPI records `scope["route"]` only for its own routes; for these, the route is the one
    whose endpoint (a mount's app) is the endpoint the request matched.
    """
    endpoint = scope.get("endpoint")
    router = scope.get("router")
    if endpoint is None or router is None:
        return None
    for candidate in getattr(router, "routes", ()):
        if isinstance(candidate, Mount):
            if candidate.app is endpoint:
                return candidate
        elif getattr(candidate, "endpoint", None) is endpoint:
            return candidate
    return None


def operation_id(route: APIRoute) -> str:
    """`auth-issue_token`: the tag says where, the function name what (generators keep the latter)."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name
