"""Pure security helpers: password policy, opaque tokens, CSRF binding, roles, revocation."""

from __future__ import annotations

import itertools
import uuid

import pytest

from app.core.permissions import ROLE_PERMISSIONS, Permission, Role, has_permission
from app.core.security.csrf import csrf_token_valid, new_csrf_token
from app.core.security.opaque import hash_token, new_token
from app.core.security.passwords import common_passwords, password_problems
from app.core.security.revocation import MemoryRevocationStore

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("correct horse battery staple", True),
        ("ñandú-über-passwort", True),
        ("x" * 64 + "yz", True),  # long passphrases are allowed, never truncated
        ("short", False),
        ("1qaz2wsx3edc", False),  # common
        ("1QAZ2WSX3EDC", False),  # common, any case
        ("aaaaaaaaaaaaaaaa", False),
        ("y" * 257, False),
    ],
)
def test_password_policy(password: str, ok: bool) -> None:
    assert (password_problems(password, min_length=12, max_length=256) == []) is ok


def test_no_composition_rules() -> None:
    assert password_problems("all lower case words here", min_length=12, max_length=256) == []


def test_common_password_list_is_shipped() -> None:
    assert len(common_passwords()) >= 30_000
    assert "password" in common_passwords()


def test_opaque_tokens_have_256_bits_and_are_stored_hashed() -> None:
    token = new_token()
    assert len(token) >= 43
    assert new_token() != token
    assert hash_token(token) != token
    assert len(hash_token(token)) == 64


def test_csrf_token_is_bound_to_its_session() -> None:
    session, other = uuid.uuid4(), uuid.uuid4()
    token = new_csrf_token("secret" * 8, session)
    assert csrf_token_valid("secret" * 8, session, token)
    assert not csrf_token_valid("secret" * 8, other, token)
    assert not csrf_token_valid("another secret" * 4, session, token)
    assert not csrf_token_valid("secret" * 8, session, None)
    assert not csrf_token_valid("secret" * 8, session, "no-dot")


def test_role_table_matches_the_product() -> None:
    assert has_permission(Role.OWNER, Permission.ORG_MANAGE)
    assert not has_permission(Role.ADMIN, Permission.ORG_MANAGE)
    assert has_permission(Role.ADMIN, Permission.MEMBERS_MANAGE)
    assert has_permission(Role.ACCOUNTANT, Permission.PAYMENTS_WRITE)
    assert not has_permission(Role.ACCOUNTANT, Permission.AUDIT_READ)
    assert has_permission(Role.MEMBER, Permission.INVOICES_WRITE_OWN)
    assert not has_permission(Role.MEMBER, Permission.INVOICES_WRITE)
    assert ROLE_PERMISSIONS[Role.VIEWER] == {
        Permission.MEMBERS_READ,
        Permission.CUSTOMERS_READ,
        Permission.INVOICES_READ,
        Permission.REPORTS_READ,
    }
    # Each role holds everything the role below it holds.
    order = [Role.VIEWER, Role.MEMBER, Role.ACCOUNTANT, Role.ADMIN, Role.OWNER]
    for lower, higher in itertools.pairwise(order):
        assert ROLE_PERMISSIONS[lower] < ROLE_PERMISSIONS[higher]


async def test_memory_revocation_expires() -> None:
    store = MemoryRevocationStore()
    session = uuid.uuid4()
    await store.revoke([session], ttl_seconds=0)
    assert not await store.is_revoked(session)
    await store.revoke([session], ttl_seconds=60)
    assert await store.is_revoked(session)
    assert not await store.is_revoked(uuid.uuid4())


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("x" * 11 + "y", None),  # exactly the minimum
        ("x" * 10 + "y", "must be at least 12 characters"),
        ("x" * 255 + "y", None),  # exactly the maximum
        ("x" * 256 + "y", "must be at most 256 characters"),
        ("Jane.Doe.Finance@Example.com", "must not be your email address"),  # any case
        ("jane.doe.finance", "must not be your email address"),  # its local part
        ("example.com", "must be at least 12 characters"),  # the domain alone is no problem of its own
        ("zzzzzzzzzzzz", "must not repeat a single character"),
        ("password1234", "is too common"),
    ],
)
def test_each_password_rule_and_its_boundary(password: str, problem: str | None) -> None:
    problems = password_problems(
        password, min_length=12, max_length=256, email="jane.doe.finance@example.com"
    )
    assert problems == ([problem] if problem else [])


async def test_redis_revocation_store_on_a_real_redis() -> None:
    from redis.asyncio import Redis

    from app.core.security.revocation import KEY_NAMESPACE, RedisRevocationStore
    from tests.conftest import REDIS_URL
    from tests.support.redis_keys import delete_keys, unique_key_prefix

    prefix = unique_key_prefix()
    redis = Redis.from_url(REDIS_URL)
    try:
        store = RedisRevocationStore(redis, key_prefix=prefix)
        revoked, other = uuid.uuid4(), uuid.uuid4()
        await store.revoke([revoked], ttl_seconds=60)
        assert await store.is_revoked(revoked)
        assert not await store.is_revoked(other)
        ttl = await redis.ttl(f"{prefix}{KEY_NAMESPACE}{revoked}")
        assert 0 < ttl <= 60
    finally:
        await redis.aclose()
        await delete_keys(REDIS_URL, prefix)
