"""Service rules on their own, without HTTP: throttling, slugs, the password policy, messages.

Real collaborators throughout: the throttle counts in the `limits` memory storage the
embedded mode uses, not in a stand-in.
"""

from __future__ import annotations

import pytest

from app.core.config import load_settings
from app.core.errors import InvalidInputError, RateLimitedError
from app.core.rate_limit import RateLimitPolicy, create_rate_limiter
from app.services import emails
from app.services.accounts import check_new_password, slugify
from app.services.login_throttle import LoginThrottle

pytestmark = pytest.mark.anyio


def throttle(*, per_account: str = "3 per 15 minutes", per_ip: str = "5 per 15 minutes") -> LoginThrottle:
    return LoginThrottle(
        limiter=create_rate_limiter(None, None),
        per_account=RateLimitPolicy.parse("login_failures_per_account", per_account),
        per_ip=RateLimitPolicy.parse("login_failures_per_ip", per_ip),
    )


async def test_throttle_locks_an_account_after_its_quota_of_failures() -> None:
    login = throttle()
    assert await login.ensure_allowed(email="a@example.com", client_ip="192.0.2.1") is False
    for _ in range(3):
        await login.record_failure(email="a@example.com", client_ip="192.0.2.1")
    with pytest.raises(RateLimitedError) as refused:
        await login.ensure_allowed(email="a@example.com", client_ip="192.0.2.99")  # any IP
    retry_after = int(refused.value.headers["Retry-After"])
    assert 1 <= retry_after <= 15 * 60
    assert refused.value.headers["RateLimit-Policy"] == '"login_failures_per_account";q=3;w=900'
    # Another account from the same address is not locked by this one's failures.
    assert await login.ensure_allowed(email="b@example.com", client_ip="192.0.2.1") is False


async def test_throttle_counts_failures_per_ip_across_accounts() -> None:
    login = throttle(per_account="100 per 15 minutes", per_ip="4 per 15 minutes")
    for index in range(4):
        await login.record_failure(email=f"user{index}@example.com", client_ip="198.51.100.7")
    with pytest.raises(RateLimitedError):
        await login.ensure_allowed(email="fresh@example.com", client_ip="198.51.100.7")
    await login.ensure_allowed(email="fresh@example.com", client_ip="198.51.100.8")


async def test_clearing_an_account_lifts_its_lock_and_its_record() -> None:
    login = throttle()
    await login.record_failure(email="c@example.com", client_ip=None)
    assert await login.ensure_allowed(email="c@example.com", client_ip=None) is True  # has failures
    for _ in range(2):
        await login.record_failure(email="c@example.com", client_ip=None)
    await login.clear_account(email="c@example.com")
    assert await login.ensure_allowed(email="c@example.com", client_ip=None) is False


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Acme Corp", "acme-corp"),
        ("  Ünïcödé  Gmbh & Co. KG ", "unicode-gmbh-co-kg"),
        ("日本語", "org"),  # nothing ASCII survives: a neutral slug, made unique by the caller
        ("--", "org"),
        ("x" * 100, "x" * 60),
    ],
)
def test_slugs_are_lowercase_ascii_words(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_the_password_policy_names_the_field_and_every_problem() -> None:
    settings = load_settings(app_env="test")
    check_new_password(settings, "a long enough passphrase", field="password")
    with pytest.raises(InvalidInputError) as refused:
        check_new_password(settings, "password", field="new_password", email="x@example.com")
    [issue] = refused.value.extensions["errors"]
    assert issue["loc"] == ["body", "new_password"]
    assert issue["type"] == "password_policy"
    assert "at least 12 characters" in issue["message"]
    assert "too common" in issue["message"]


def test_links_in_emails_carry_the_token_url_encoded() -> None:
    message = emails.password_reset_email(to="d@example.com", base_url="https://app.example/", token="a+b/c=")
    assert message.to == "d@example.com"
    assert "https://app.example/reset-password?token=a%2Bb/c%3D" in message.body
    verification = emails.verification_email(to="d@example.com", base_url="https://app.example", token="t")
    assert "https://app.example/verify-email?token=t" in verification.body
