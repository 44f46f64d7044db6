"""`Depends(RateLimit("login"))`: a reusable, class-based rate-limit checker.

Each call counts one request against the named policy for the client's address (its /64
for IPv6), and puts the
IETF `RateLimit-Policy` / `RateLimit` fields on the response, success or error alike.
"""

from __future__ import annotations

from fastapi import Request, Response

from app.api.contract import Declares, declare
from app.core.config import Settings
from app.core.errors import RateLimitedError
from app.core.rate_limit import RateLimiter, RateLimitPolicy, RateLimitStatus, client_network

RATE_LIMIT_HEADERS_STATE = "rate_limit_headers"


def client_address(request: Request) -> str:
    """The client after proxy handling (uvicorn rewrites it for trusted proxies only)."""
    return request.client.host if request.client else "unknown"


class RateLimit:
    def __init__(self, policy_name: str) -> None:
        self.policy_name = policy_name

    async def __call__(self, request: Request, response: Response) -> RateLimitStatus:
        limiter: RateLimiter = request.app.state.rate_limiter
        policy: RateLimitPolicy = request.app.state.rate_limit_policies[self.policy_name]
        settings: Settings = request.app.state.settings
        key = client_network(
            client_address(request), ipv6_prefix_length=settings.rate_limit_ipv6_prefix_length
        )
        status = await limiter.hit(policy, key)
        headers = status.headers()
        # Read by the error handlers, so refusals of a limited route carry the fields too.
        setattr(request.state, RATE_LIMIT_HEADERS_STATE, headers)
        if not status.allowed:
            raise RateLimitedError(
                f"Rate limit '{policy.name}' exceeded; retry after {status.retry_after_seconds} s.",
                headers={**headers, "Retry-After": str(status.retry_after_seconds)},
            )
        response.headers.update(headers)
        return status


declare(
    RateLimit,
    Declares(problems=(RateLimitedError,), success_headers=("RateLimit", "RateLimit-Policy")),
)
