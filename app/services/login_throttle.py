"""Brute-force protection for password checks: attempts counted per account and per client network.

Every password check is counted *before* the hash runs, in one atomic step that also checks
the quota, so however many guesses arrive at once, at most the quota's number is ever
checked per window; the rest get 429 + Retry-After without a hash. A correct password
forgives the account's count (the owner has proven themselves); the client network's count
keeps every attempt, which is what a credential-stuffing source looks like.

Unknown accounts are counted exactly like real ones, so the 429 reveals nothing. The
password-reset flow is not throttled by these counters, and a successful reset clears the
account's, so lockout is no denial-of-service tool.
"""

from __future__ import annotations

from app.core.errors import RateLimitedError
from app.core.rate_limit import RateLimiter, RateLimitPolicy, RateLimitStatus, client_network


class LoginThrottle:
    def __init__(
        self,
        *,
        limiter: RateLimiter,
        per_account: RateLimitPolicy,
        per_ip: RateLimitPolicy,
        ipv6_prefix_length: int,
    ) -> None:
        self._limiter = limiter
        self._per_account = per_account
        self._per_ip = per_ip
        self._ipv6_prefix_length = ipv6_prefix_length

    async def reserve_attempt(self, *, email: str, client_ip: str | None) -> None:
        """Count one password check for the client's network and the account, or raise 429."""
        if client_ip:
            network = client_network(client_ip, ipv6_prefix_length=self._ipv6_prefix_length)
            if not await self._limiter.acquire(self._per_ip, network):
                raise _locked_out(await self._limiter.peek(self._per_ip, network))
        if not await self._limiter.acquire(self._per_account, email):
            raise _locked_out(await self._limiter.peek(self._per_account, email))

    async def forgive_account(self, *, email: str) -> None:
        """The right password was given: the account's count starts again from zero."""
        await self._limiter.clear(self._per_account, email)


def _locked_out(status: RateLimitStatus) -> RateLimitedError:
    return RateLimitedError(
        "Too many sign-in attempts. Try again later, or reset your password.",
        headers={**status.headers(), "Retry-After": str(status.retry_after_seconds)},
    )
