"""Rate limits as dependencies, with the IETF `RateLimit-Policy` / `RateLimit` fields on the
response, success or error alike:
- `Depends(RateLimit("login"))`: per client address (its /64 for IPv6), for public routes;
- every authenticated route, per caller (user or API key), with per-route overrides
  (`limit_caller`, run by the principal dependency);
- every tenant route, per organization as well (run by the tenant seam).
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.routing import APIRoute

from app.api.contract import Declares, declare
from app.api.dependencies.core import services_of
from app.api.routing import operation_id
from app.core.config import Settings
from app.core.errors import RateLimitedError
from app.core.rate_limit import RateLimitStatus, client_network
from app.core.security.principal import ApiKeyPrincipal, Caller

RATE_LIMIT_HEADERS_STATE = "rate_limit_headers"


def client_address(request: Request) -> str:
    """The client after proxy handling (uvicorn rewrites it for trusted proxies only)."""
    return request.client.host if request.client else "unknown"


async def enforce(request: Request, response: Response, *, policy_name: str, key: str) -> RateLimitStatus:
    """Count one request for `key` under the policy; 429 past its quota.

    A request may pass several policies (the caller's and the organization's): each adds its
    entry to the `RateLimit-Policy` and `RateLimit` lists, on success and refusal alike.
    """
    services = services_of(request)
    policy = services.rate_limit_policies[policy_name]
    status = await services.rate_limiter.hit(policy, key)
    earlier: dict[str, str] = getattr(request.state, RATE_LIMIT_HEADERS_STATE, {})
    headers = {
        name: f"{earlier[name]}, {value}" if name in earlier else value
        for name, value in status.headers().items()
    }
    # Read by the error handlers, so refusals of a limited route carry the fields too.
    setattr(request.state, RATE_LIMIT_HEADERS_STATE, headers)
    if not status.allowed:
        raise RateLimitedError(
            f"Rate limit '{policy.name}' exceeded; retry after {status.retry_after_seconds} s.",
            headers={**headers, "Retry-After": str(status.retry_after_seconds)},
        )
    response.headers.update(headers)
    return status


def rate_limit_headers(request: Request) -> dict[str, str]:
    """The RateLimit fields counted for this request, for a route that returns its own
    `Response` (FastAPI copies the injected response's headers only into responses it builds)."""
    headers: dict[str, str] = getattr(request.state, RATE_LIMIT_HEADERS_STATE, {})
    return dict(headers)


class RateLimit:
    """Per client address (its network for IPv6): for the public routes."""

    def __init__(self, policy_name: str) -> None:
        self.policy_name = policy_name

    async def __call__(self, request: Request, response: Response) -> RateLimitStatus:
        settings: Settings = request.app.state.settings
        key = client_network(
            client_address(request), ipv6_prefix_length=settings.rate_limit_ipv6_prefix_length
        )
        return await enforce(request, response, policy_name=self.policy_name, key=key)


def caller_key(caller: Caller) -> str:
    return f"key:{caller.api_key_id}" if isinstance(caller, ApiKeyPrincipal) else f"user:{caller.user_id}"


async def limit_caller(request: Request, response: Response, caller: Caller) -> None:
    """Every authenticated route, per caller: RATE_LIMIT_API, or the route's own override."""
    route = request.scope.get("route")
    policies = services_of(request).rate_limit_policies
    override = f"api:{operation_id(route)}" if isinstance(route, APIRoute) else None
    name = override if override in policies else "api"
    await enforce(request, response, policy_name=name, key=caller_key(caller))


declare(
    RateLimit,
    Declares(problems=(RateLimitedError,), success_headers=("RateLimit", "RateLimit-Policy")),
)
