"""Rate limits: IETF RateLimit fields, 429 + Retry-After, partitioned, shared through Redis."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.conftest import REDIS_URL, ClientFactory
from tests.support.accounts import bearer, login, signup
from tests.support.factories import account_with_tokens, make_user
from tests.support.jobs import settling_hooks
from tests.support.smtp import MailSink

pytestmark = pytest.mark.anyio

POLICY = re.compile(r'^"(?P<name>[a-z_]+)";q=(?P<q>\d+);w=(?P<w>\d+)$')
STATE = re.compile(r'^"(?P<name>[a-z_]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')


def fields(response: httpx.Response) -> tuple[dict[str, str], dict[str, str]]:
    policy = POLICY.match(response.headers["ratelimit-policy"])
    state = STATE.match(response.headers["ratelimit"])
    assert policy, response.headers
    assert state, response.headers
    assert policy["name"] == state["name"]
    return policy.groupdict(), state.groupdict()


async def forgot(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/api/v1/auth/password/forgot", json={"email": "x@example.com"})


async def test_every_response_of_a_limited_route_carries_the_fields(make_client: ClientFactory) -> None:
    async with make_client(rate_limit_password_forgot="3/minute") as client:
        invalid = await client.post("/api/v1/auth/password/forgot", json={"email": "nope"})
        responses = [await forgot(client) for _ in range(3)]
    assert invalid.status_code == 422  # refused input is counted and carries the fields too
    assert fields(invalid) == ({"name": "password_forgot", "q": "3", "w": "60"}, fields(invalid)[1])
    remaining = [int(fields(response)[1]["r"]) for response in (invalid, *responses)]
    assert remaining == [2, 1, 0, 0]  # never negative
    assert [response.status_code for response in responses] == [202, 202, 429]
    refused = responses[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "rate_limited"
    assert refused.headers["cache-control"] == "no-store"
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= 60
    assert retry_after >= int(fields(refused)[1]["t"])


async def test_quotas_are_partitioned_by_client(make_client: ClientFactory) -> None:
    async with make_client(rate_limit_password_forgot="1/minute", client_address=("192.0.2.1", 1)) as first:
        assert (await forgot(first)).status_code == 202
        assert (await forgot(first)).status_code == 429
        app = first.app  # type: ignore[attr-defined]
        transport = httpx.ASGITransport(app=app, client=("192.0.2.2", 1))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", event_hooks=settling_hooks(app)
        ) as second:
            assert (await forgot(second)).status_code == 202


async def test_login_has_its_own_stricter_policy(make_client: ClientFactory) -> None:
    async with make_client(rate_limit_login="2/minute") as client:
        statuses = [
            (await login(client, "who@example.com", "wrong password 1234")).status_code for _ in range(3)
        ]
        policy, _ = fields(await login(client, "who@example.com", "x"))
    assert statuses == [400, 400, 429]
    assert policy["name"] == "login"


async def test_limits_are_shared_by_replicas_through_redis(make_client: ClientFactory) -> None:
    settings = {"redis_url": REDIS_URL, "rate_limit_password_forgot": "2/minute"}
    async with make_client(**settings) as replica_a, make_client(**settings) as replica_b:
        assert (await forgot(replica_a)).status_code == 202
        assert (await forgot(replica_b)).status_code == 202
        assert (await forgot(replica_a)).status_code == 429
        assert (await forgot(replica_b)).status_code == 429


async def test_revocation_is_shared_by_replicas_through_redis(make_client: ClientFactory) -> None:
    async with make_client(redis_url=REDIS_URL) as replica_a, make_client(redis_url=REDIS_URL) as replica_b:
        # Same signing key on both replicas, as production configures it.
        replica_b.app.state.services.token_codec = replica_a.app.state.services.token_codec  # type: ignore[attr-defined]
        tokens = await account_with_tokens(replica_a, "replicas@example.com")
        headers = bearer(tokens["access_token"])
        assert (await replica_b.get("/api/v1/users/me", headers=headers)).status_code == 200
        assert (await replica_a.post("/api/v1/auth/logout", headers=headers)).status_code == 204
        assert (await replica_b.get("/api/v1/users/me", headers=headers)).status_code == 401


def other_network() -> str:
    """A random /64 of the documentation prefix, as its first four groups."""
    return f"2001:db8:{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_an_ipv6_client_is_limited_by_its_64_network(make_client: ClientFactory, store: str) -> None:
    """Rotating addresses within the /64 a subscriber holds gives no fresh quota."""
    network = other_network()
    overrides = {"redis_url": REDIS_URL} if store == "redis" else {}
    async with make_client(
        rate_limit_password_forgot="2/minute", client_address=(f"{network}::1", 1), **overrides
    ) as client:
        app = client.app  # type: ignore[attr-defined]

        async def from_address(address: str) -> httpx.Response:
            transport = httpx.ASGITransport(app=app, client=(address, 1))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver", event_hooks=settling_hooks(app)
            ) as other:
                return await forgot(other)

        assert (await forgot(client)).status_code == 202
        assert (await from_address(f"{network}:1234:5678:9abc:def0")).status_code == 202
        assert (await from_address(f"{network}:ffff::42")).status_code == 429
        assert (await from_address(f"{other_network()}::1")).status_code == 202


async def test_reset_emails_to_one_address_are_limited_whoever_asks(
    make_client: ClientFactory, mail: MailSink
) -> None:
    """Per-client limits bound the asking; the recipient's quota bounds the mail it gets."""
    async with make_client(rate_limit_mail_per_recipient="2 per hour") as client:
        await make_user(client, "inbox@example.com")
        app = client.app  # type: ignore[attr-defined]
        for index in range(5):  # five clients, each well within its own limit
            transport = httpx.ASGITransport(app=app, client=(f"192.0.2.{index + 10}", 1))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver", event_hooks=settling_hooks(app)
            ) as asker:
                response = await asker.post(
                    "/api/v1/auth/password/forgot", json={"email": "inbox@example.com"}
                )
                assert response.status_code == 202  # the same answer, mail or no mail
        resets = [message for message in mail.to("inbox@example.com") if "Reset" in message.subject]
        assert len(resets) == 2


async def test_sign_up_notices_to_one_address_are_limited(make_client: ClientFactory, mail: MailSink) -> None:
    async with make_client(rate_limit_mail_per_recipient="3 per hour") as client:
        for _ in range(6):
            assert (await signup(client, "taken@example.com")).status_code == 202
        # One verification mail for the new account, then notices until the quota is spent.
        assert len(mail.to("taken@example.com")) == 3
