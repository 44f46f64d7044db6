"""Service rules on their own, without HTTP: throttling, slugs, the password policy, messages.

Real collaborators throughout: the throttle counts in the `limits` memory storage the
embedded mode uses, not in a stand-in.
"""

from __future__ import annotations

import asyncio

import pytest

from app.core.config import load_settings
from app.core.errors import InvalidInputError, RateLimitedError
from app.core.rate_limit import RateLimitPolicy, client_network, create_rate_limiter
from app.services import emails
from app.services.accounts import check_new_password, slugify
from app.services.login_throttle import LoginThrottle

pytestmark = pytest.mark.anyio


def throttle(*, per_account: str = "3 per 15 minutes", per_ip: str = "5 per 15 minutes") -> LoginThrottle:
    return LoginThrottle(
        limiter=create_rate_limiter(None, None, key_prefix="invoicer:"),
        per_account=RateLimitPolicy.parse("login_failures_per_account", per_account),
        per_ip=RateLimitPolicy.parse("login_failures_per_ip", per_ip),
        ipv6_prefix_length=64,
    )


async def test_throttle_refuses_an_account_past_its_quota_of_checks() -> None:
    login = throttle()
    for _ in range(3):
        await login.reserve_attempt(email="a@example.com", client_ip="192.0.2.1")
    with pytest.raises(RateLimitedError) as refused:
        await login.reserve_attempt(email="a@example.com", client_ip="192.0.2.99")  # any IP
    retry_after = int(refused.value.headers["Retry-After"])
    assert 1 <= retry_after <= 15 * 60
    assert refused.value.headers["RateLimit-Policy"] == '"login_failures_per_account";q=3;w=900'
    # Another account from the same address is not locked by this one's attempts.
    await login.reserve_attempt(email="b@example.com", client_ip="192.0.2.1")


async def test_throttle_reserves_before_the_check_however_concurrent() -> None:
    login = throttle(per_account="10 per 15 minutes", per_ip="100 per 15 minutes")

    async def attempt() -> bool:
        try:
            await login.reserve_attempt(email="busy@example.com", client_ip="192.0.2.1")
        except RateLimitedError:
            return False
        return True

    outcomes = await asyncio.gather(*(attempt() for _ in range(30)))
    assert outcomes.count(True) == 10


async def test_throttle_counts_attempts_per_ip_across_accounts() -> None:
    login = throttle(per_account="100 per 15 minutes", per_ip="4 per 15 minutes")
    for index in range(4):
        await login.reserve_attempt(email=f"user{index}@example.com", client_ip="198.51.100.7")
    with pytest.raises(RateLimitedError):
        await login.reserve_attempt(email="fresh@example.com", client_ip="198.51.100.7")
    await login.reserve_attempt(email="fresh@example.com", client_ip="198.51.100.8")


async def test_throttle_counts_an_ipv6_client_by_its_64_network() -> None:
    login = throttle(per_account="100 per 15 minutes", per_ip="4 per 15 minutes")
    for index in range(4):  # four addresses of one /64, as one subscriber holds them
        await login.reserve_attempt(email=f"v6{index}@example.com", client_ip=f"2001:db8:1:2::{index + 1:x}")
    with pytest.raises(RateLimitedError):
        await login.reserve_attempt(email="fresh@example.com", client_ip="2001:db8:1:2:ffff::9")
    await login.reserve_attempt(email="fresh@example.com", client_ip="2001:db8:1:3::1")  # the next /64


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("2001:db8:aa:bb:cc:dd:ee:ff", "2001:db8:aa:bb::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # IPv4-mapped: the IPv4 client it is
        ("192.0.2.7", "192.0.2.7"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_rate_limit_key_of_a_client_address(address: str, key: str) -> None:
    assert client_network(address, ipv6_prefix_length=64) == key


async def test_forgiving_an_account_restores_its_quota() -> None:
    login = throttle()
    for _ in range(3):
        await login.reserve_attempt(email="c@example.com", client_ip=None)
    await login.forgive_account(email="c@example.com")
    for _ in range(3):
        await login.reserve_attempt(email="c@example.com", client_ip=None)


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
