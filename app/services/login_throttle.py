"""Brute-force protection for password checks: failures counted per account and per client IP.

Past either threshold, even the right password is refused (429 + Retry-After) until the
window passes. Unknown accounts are counted exactly like real ones, so the 429 reveals
nothing. The password-reset flow is not throttled by these counters, and a successful reset
clears the account's, so lockout is no denial-of-service tool.
"""

from __future__ import annotations

from app.core.errors import RateLimitedError
from app.core.rate_limit import RateLimiter, RateLimitPolicy, RateLimitStatus


class LoginThrottle:
    def __init__(
        self, *, limiter: RateLimiter, per_account: RateLimitPolicy, per_ip: RateLimitPolicy
    ) -> None:
        self._limiter = limiter
        self._per_account = per_account
        self._per_ip = per_ip

    async def ensure_allowed(self, *, email: str, client_ip: str | None) -> bool:
        """Raise 429 past a threshold; True when the account has recent failures on record."""
        account = await self._limiter.peek(self._per_account, email)
        checks = [account]
        if client_ip:
            checks.append(await self._limiter.peek(self._per_ip, client_ip))
        blocked = [status for status in checks if not status.allowed]
        if blocked:
            raise _locked_out(max(blocked, key=lambda status: status.reset_seconds))
        return account.remaining < self._per_account.quota

    async def record_failure(self, *, email: str, client_ip: str | None) -> None:
        await self._limiter.hit(self._per_account, email)
        if client_ip:
            await self._limiter.hit(self._per_ip, client_ip)

    async def clear_account(self, *, email: str) -> None:
        await self._limiter.clear(self._per_account, email)


def _locked_out(status: RateLimitStatus) -> RateLimitedError:
    return RateLimitedError(
        "Too many failed sign-in attempts. Try again later, or reset your password.",
        headers={**status.headers(), "Retry-After": str(status.retry_after_seconds)},
    )
