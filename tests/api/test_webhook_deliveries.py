"""Webhook deliveries end to end, to a real receiver on loopback: an event becomes one signed
delivery (verified with the reference `standardwebhooks` library), retries follow the schedule
and `Retry-After`, redirects are not followed, answers are cut, 410 and long failure disable the
endpoint (its owners are mailed), dead deliveries are replayed, and the fan-out is idempotent."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine
from standardwebhooks.webhooks import Webhook

from app.core.permissions import Role
from app.models import Event, WebhookDelivery, WebhookEndpoint
from app.tasks.webhooks import fan_out_event, purge_deliveries
from tests.conftest import ClientFactory
from tests.support.invoicing import new_customer
from tests.support.smtp import MailSink
from tests.support.tenants import Tenant, make_tenant
from tests.support.webhook_receiver import (
    Answer,
    WebhookReceiver,
    create_endpoint,
    deliveries,
    delivery,
    settled_delivery,
)

pytestmark = pytest.mark.anyio

# Loopback receivers are allowed here, as in a developer's embedded mode; the SSRF tests
# (test_webhook_endpoints.py) run without this.
LOOPBACK = {"webhook_allow_private_targets": True, "job_sweep_interval_seconds": 0.05}
FAST = {**LOOPBACK, "webhook_retry_schedule_seconds": [0.2, 0.2]}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver().start()
    yield started
    started.stop()


def owner_database(client: httpx.AsyncClient) -> str:
    url: str = client.app.state.settings.effective_migration_database_url  # type: ignore[attr-defined]
    return url


async def only_delivery(client: httpx.AsyncClient, acme: Tenant, endpoint_id: str) -> dict[str, Any]:
    [found] = await deliveries(client, acme, endpoint_id)
    return await settled_delivery(client, acme, endpoint_id, found["id"])


async def ping(client: httpx.AsyncClient, acme: Tenant, endpoint_id: str) -> dict[str, Any]:
    response = await client.post(
        acme.path(f"/webhook-endpoints/{endpoint_id}/ping"), headers=acme.auth[Role.ADMIN]
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_event_reaches_the_endpoint_signed_once(
    make_client: ClientFactory, receiver: WebhookReceiver
) -> None:
    async with make_client(**LOOPBACK) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(
            client, acme, receiver.url(), ["customer.created", "invoice.created"]
        )
        receiver.secrets = [endpoint["secret"]]
        customer_id = await new_customer(client, acme)

        [received] = receiver.wait_for(1)
        assert received.verified_by == [0]
        message = Webhook(endpoint["secret"]).verify(received.body, received.headers)
        assert message["type"] == "customer.created"
        assert message["data"]["id"] == customer_id
        assert message["timestamp"].endswith("Z")
        assert received.headers["content-type"] == "application/json"
        assert received.headers["user-agent"].startswith("Invoicer-Webhooks/")
        assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 60

        sent = await only_delivery(client, acme, endpoint["id"])
        assert sent["status"] == "succeeded"
        assert sent["attempts"] == 1
        assert sent["event_type"] == "customer.created"
        assert received.webhook_id == sent["id"]
        [attempt] = sent["history"]
        assert attempt["status_code"] == 200
        assert attempt["response_body"] == "ok"
        assert attempt["error"] is None
        assert attempt["latency_ms"] >= 0


async def test_only_subscribed_types_of_enabled_endpoints_are_delivered(
    make_client: ClientFactory, receiver: WebhookReceiver
) -> None:
    async with make_client(**LOOPBACK) as client:
        acme = await make_tenant(client)
        invoices_only = await create_endpoint(client, acme, receiver.url("/invoices"), ["invoice.created"])
        disabled = await create_endpoint(
            client, acme, receiver.url("/off"), ["customer.created"], enabled=False
        )
        await new_customer(client, acme)
        assert await deliveries(client, acme, invoices_only["id"]) == []
        assert await deliveries(client, acme, disabled["id"]) == []
        assert receiver.received == []


async def test_fanning_out_an_event_twice_makes_one_delivery(
    make_client: ClientFactory, receiver: WebhookReceiver
) -> None:
    async with make_client(**LOOPBACK) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, receiver.url())
        await new_customer(client, acme)
        engine = create_async_engine(owner_database(client))
        try:
            async with engine.connect() as connection:
                event_id = await connection.scalar(select(Event.id).where(Event.org_id == acme.org_id))
        finally:
            await engine.dispose()
        assert isinstance(event_id, uuid.UUID)
        runtime = client.app.state.job_runtime  # type: ignore[attr-defined]
        await fan_out_event(runtime.context, event_id)  # the relay publishing it again
        await fan_out_event(runtime.context, event_id)
        await runtime.settle()
        assert len(await deliveries(client, acme, endpoint["id"])) == 1
        assert len(receiver.received) == 1


async def test_a_failed_attempt_is_retried_with_the_same_id_and_a_fresh_signature(
    make_client: ClientFactory, receiver: WebhookReceiver
) -> None:
    receiver.answer(Answer(status=500, body=b"try later"))
    async with make_client(**FAST) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, receiver.url())
        receiver.secrets = [endpoint["secret"]]
        await new_customer(client, acme)
        sent = await only_delivery(client, acme, endpoint["id"])
    assert sent["status"] == "succeeded"
    assert sent["attempts"] == 2
    assert [attempt["status_code"] for attempt in sent["history"]] == [500, 200]
    assert sent["history"][0]["response_body"] == "try later"
    assert sent["history"][0]["error"] == "the endpoint answered 500"
    first, second = receiver.received
    assert first.webhook_id == second.webhook_id == sent["id"]
    assert first.body == second.body
    assert first.verified_by == second.verified_by == [0]
    assert [message.webhook_id for message in receiver.accepted] == [sent["id"]]


async def test_retry_after_is_honoured(make_client: ClientFactory, receiver: WebhookReceiver) -> None:
    receiver.answer(Answer(status=503, headers={"Retry-After": "2"}))
    async with make_client(**{**LOOPBACK, "webhook_retry_schedule_seconds": [0.1]}) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, receiver.url())
        await new_customer(client, acme)
        sent = await only_delivery(client, acme, endpoint["id"])
    assert sent["status"] == "succeeded"
    first, second = receiver.received
    assert [attempt["status_code"] for attempt in sent["history"]] == [503, 200]
    waited = _seconds_between(sent["history"][0]["attempted_at"], sent["history"][1]["attempted_at"])
    assert waited >= 1.9, f"retried after {waited:.2f} s, before Retry-After's 2 s"
    assert first.webhook_id == second.webhook_id


def _seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


async def test_a_redirect_is_not_followed(make_client: ClientFactory, receiver: WebhookReceiver) -> None:
    receiver.answer(Answer(status=302, headers={"Location": receiver.url("/elsewhere")}))
    async with make_client(**{**LOOPBACK, "webhook_retry_schedule_seconds": [60]}) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, receiver.url())
        sent = await ping(client, acme, endpoint["id"])
        found = await delivery(client, acme, endpoint["id"], sent["id"])
    assert found["status"] == "pending"  # a failure, retried later
    [attempt] = found["history"]
    assert attempt["status_code"] == 302
    assert "redirect" in attempt["error"]
    assert [request.path for request in receiver.received] == ["/hooks"]


async def test_an_oversized_answer_is_cut(make_client: ClientFactory, receiver: WebhookReceiver) -> None:
    receiver.answer(Answer(status=200, body=b"x" * 2_000_000))
    async with make_client(**LOOPBACK) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, receiver.url())
        sent = await ping(client, acme, endpoint["id"])
        found = await settled_delivery(client, acme, endpoint["id"], sent["id"])
    assert found["status"] == "succeeded"
    [attempt] = found["history"]
    assert attempt["response_body"] == "x" * 1024


async def test_a_ping_is_a_signed_message_without_an_event(
    make_client: ClientFactory, receiver: WebhookReceiver
) -> None:
    async with make_client(**LOOPBACK) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, receiver.url())
        sent = await ping(client, acme, endpoint["id"])
        assert sent["event_id"] is None
        assert sent["event_type"] == "webhook.ping"
        found = await settled_delivery(client, acme, endpoint["id"], sent["id"])
    assert found["status"] == "succeeded"
    [received] = receiver.received
    message = Webhook(endpoint["secret"]).verify(received.body, received.headers)
    assert message["type"] == "webhook.ping"
    assert message["data"]["endpoint_id"] == endpoint["id"]


async def test_410_gone_disables_the_endpoint_at_once(
    make_client: ClientFactory, receiver: WebhookReceiver, mail: MailSink
) -> None:
    receiver.answer(Answer(status=410))
    async with make_client(**LOOPBACK) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, receiver.url())
        sent = await ping(client, acme, endpoint["id"])
        found = await settled_delivery(client, acme, endpoint["id"], sent["id"])
        assert found["status"] == "dead"
        assert found["attempts"] == 1
        read = await client.get(
            acme.path(f"/webhook-endpoints/{endpoint['id']}"), headers=acme.auth[Role.ADMIN]
        )
        assert read.json()["enabled"] is False
        assert "410" in read.json()["disabled_reason"]
        assert read.headers["etag"] != '"1"'
        # Nothing more is sent to it: a ping is refused, an event makes no delivery.
        refused = await client.post(
            acme.path(f"/webhook-endpoints/{endpoint['id']}/ping"), headers=acme.auth[Role.ADMIN]
        )
        assert refused.status_code == 409
        assert refused.json()["code"] == "webhook_endpoint_disabled"
    assert "410" in mail.last_to("owner@acme.example.com").body


async def test_an_endpoint_down_past_the_schedule_is_dead_disabled_and_its_owners_told(
    make_client: ClientFactory, receiver: WebhookReceiver, mail: MailSink
) -> None:
    receiver.stop()
    async with make_client(**FAST, webhook_disable_after_seconds=0.3) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, receiver.url())
        await new_customer(client, acme)
        sent = await only_delivery(client, acme, endpoint["id"])
        assert sent["status"] == "dead"
        assert sent["attempts"] == 3
        assert all(attempt["status_code"] is None for attempt in sent["history"])
        # Each attempt found nobody listening, unless the endpoint was disabled before the last
        # (the streak passed 0.3 s at the second): that one then gave up without connecting.
        errors = [attempt["error"] for attempt in sent["history"]]
        assert errors[0].startswith("no answer: ConnectError")
        assert all(
            error.startswith(("no answer: ConnectError", "the endpoint is disabled")) for error in errors
        )
        read = await client.get(
            acme.path(f"/webhook-endpoints/{endpoint['id']}"), headers=acme.auth[Role.ADMIN]
        )
        assert read.json()["enabled"] is False
        assert "kept failing" in read.json()["disabled_reason"]
        dead = await deliveries(client, acme, endpoint["id"], status="dead")
        assert [item["id"] for item in dead] == [sent["id"]]
        assert await deliveries(client, acme, endpoint["id"], status="succeeded") == []
    told = mail.last_to("owner@acme.example.com")
    assert endpoint["url"] in told.body
    assert mail.to("admin@acme.example.com") == []


async def test_a_poison_delivery_ends_dead_and_a_replay_sends_it(
    make_client: ClientFactory, receiver: WebhookReceiver
) -> None:
    """A receiver that fails every attempt: dead after the schedule, no crash loop; replayed
    once it works, the same message (same `webhook-id`) arrives and is accepted."""
    receiver.default = Answer(status=500, body=b"broken")
    async with make_client(**FAST) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, receiver.url())
        receiver.secrets = [endpoint["secret"]]
        await new_customer(client, acme)
        dead = await only_delivery(client, acme, endpoint["id"])
        assert dead["status"] == "dead"
        assert dead["attempts"] == dead["max_attempts"] == 3
        assert len(receiver.received) == 3
        listed = await deliveries(client, acme, endpoint["id"], status="dead")
        assert [item["id"] for item in listed] == [dead["id"]]

        receiver.default = Answer(status=204, body=b"")
        replayed = await client.post(
            acme.path(f"/webhook-endpoints/{endpoint['id']}/deliveries/{dead['id']}/replay"),
            headers=acme.auth[Role.ADMIN],
        )
        assert replayed.status_code == 202, replayed.text
        assert replayed.json()["status"] == "pending"
        again = await settled_delivery(client, acme, endpoint["id"], dead["id"])
    assert again["status"] == "succeeded"
    assert again["attempts"] == 1
    assert len(again["history"]) == 4  # the three failures stay on record
    [accepted] = receiver.accepted
    assert accepted.webhook_id == dead["id"]
    assert accepted.verified_by == [0]


async def test_a_secret_that_no_longer_opens_gives_up_until_the_secret_is_rotated(
    make_client: ClientFactory, receiver: WebhookReceiver
) -> None:
    async with make_client(**LOOPBACK) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, receiver.url())
        engine = create_async_engine(owner_database(client))
        try:
            async with engine.begin() as connection:  # as after a SECRET_KEY change
                await connection.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == uuid.UUID(endpoint["id"]))
                    .values(secret=b"\x00" * 40)
                )
        finally:
            await engine.dispose()
        sent = await ping(client, acme, endpoint["id"])
        dead = await settled_delivery(client, acme, endpoint["id"], sent["id"])
        assert dead["status"] == "dead"
        assert dead["attempts"] == 1
        assert "secret does not open" in dead["history"][0]["error"]
        assert receiver.received == []

        rotated = await client.post(
            acme.path(f"/webhook-endpoints/{endpoint['id']}/rotate-secret"), headers=acme.auth[Role.ADMIN]
        )
        assert rotated.status_code == 200, rotated.text
        receiver.secrets = [rotated.json()["secret"]]
        replay = await client.post(
            acme.path(f"/webhook-endpoints/{endpoint['id']}/replay"),
            headers=acme.auth[Role.ADMIN],
            json={"since": "2000-01-01T00:00:00Z"},
        )
        assert replay.status_code == 202, replay.text
        assert replay.json() == {"requeued": 1}
        again = await settled_delivery(client, acme, endpoint["id"], sent["id"])
    assert again["status"] == "succeeded"
    [received] = receiver.received
    assert received.verified_by == [0]


async def test_a_hostname_resolving_to_loopback_is_refused_at_delivery(
    make_client: ClientFactory, receiver: WebhookReceiver
) -> None:
    """A name that resolved elsewhere at registration (or not at all) and now resolves to
    loopback: the worker checks the addresses after resolving, and connects to none."""
    async with make_client(webhook_retry_schedule_seconds=[60]) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, "http://hooks.example.invalid/hooks")
        engine = create_async_engine(owner_database(client))
        try:
            async with engine.begin() as connection:  # as if its DNS now answered 127.0.0.1
                await connection.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == uuid.UUID(endpoint["id"]))
                    .values(url=f"http://localhost:{receiver.port}/hooks")
                )
        finally:
            await engine.dispose()
        sent = await ping(client, acme, endpoint["id"])
        found = await delivery(client, acme, endpoint["id"], sent["id"])
    [attempt] = found["history"]
    assert attempt["status_code"] is None
    assert "refused before connecting" in attempt["error"]
    assert receiver.received == []


async def test_an_unresolvable_host_is_a_failed_attempt(make_client: ClientFactory) -> None:
    async with make_client(webhook_retry_schedule_seconds=[60]) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, "http://hooks.example.invalid/hooks")
        sent = await ping(client, acme, endpoint["id"])
        found = await delivery(client, acme, endpoint["id"], sent["id"])
    assert found["status"] == "pending"
    [attempt] = found["history"]
    assert attempt["error"].startswith("the host does not resolve")


async def test_rotation_signs_with_both_secrets_during_the_grace_then_only_the_new(
    make_client: ClientFactory, receiver: WebhookReceiver
) -> None:
    async with make_client(**LOOPBACK, webhook_secret_rotation_grace_seconds=1) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, receiver.url())
        rotated = await client.post(
            acme.path(f"/webhook-endpoints/{endpoint['id']}/rotate-secret"), headers=acme.auth[Role.ADMIN]
        )
        assert rotated.status_code == 200, rotated.text
        old, new = endpoint["secret"], rotated.json()["secret"]
        assert old != new
        assert new.startswith("whsec_")
        assert rotated.json()["previous_secret_expires_at"] is not None
        receiver.secrets = [old, new]
        sent = await ping(client, acme, endpoint["id"])
        await settled_delivery(client, acme, endpoint["id"], sent["id"])
        await anyio.sleep(1.1)  # the grace ends
        sent = await ping(client, acme, endpoint["id"])
        await settled_delivery(client, acme, endpoint["id"], sent["id"])
    during, after = receiver.received
    assert len(during.signatures()) == 2
    assert all(signature.startswith("v1,") for signature in during.signatures())
    assert during.verified_by == [0, 1]
    for secret in (old, new):
        Webhook(secret).verify(during.body, during.headers)
    # Each signature is one secret's: with only one of them the header still verifies.
    for index, secret in enumerate((new, old)):
        alone = {**during.headers, "webhook-signature": during.signatures()[index]}
        Webhook(secret).verify(during.body, alone)

    assert len(after.signatures()) == 1
    assert after.verified_by == [1]


async def test_deliveries_page_by_cursor_and_filter_by_status(
    make_client: ClientFactory, receiver: WebhookReceiver
) -> None:
    async with make_client(**LOOPBACK) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, receiver.url())
        sent = [await ping(client, acme, endpoint["id"]) for _ in range(3)]
        path = acme.path(f"/webhook-endpoints/{endpoint['id']}/deliveries")
        first = await client.get(path, headers=acme.auth[Role.ADMIN], params={"limit": 2})
        assert first.status_code == 200
        assert 'rel="next"' in first.headers["link"]
        second = await client.get(
            path, headers=acme.auth[Role.ADMIN], params={"limit": 2, "cursor": first.json()["next_cursor"]}
        )
        ids = [item["id"] for item in first.json()["items"] + second.json()["items"]]
        assert ids == [item["id"] for item in reversed(sent)]
        assert second.json()["next_cursor"] is None
        foreign = await client.get(
            path,
            headers=acme.auth[Role.ADMIN],
            params={"status": "dead", "cursor": first.json()["next_cursor"]},
        )
        assert foreign.status_code == 400
        assert await deliveries(client, acme, endpoint["id"], status="dead") == []
        bad = await client.get(path, headers=acme.auth[Role.ADMIN], params={"status": "lost"})
        assert bad.status_code == 422


async def test_purge_removes_old_finished_deliveries_with_their_attempts(
    make_client: ClientFactory, receiver: WebhookReceiver
) -> None:
    async with make_client(**LOOPBACK) as client:
        acme = await make_tenant(client)
        endpoint = await create_endpoint(client, acme, receiver.url())
        old = await ping(client, acme, endpoint["id"])
        recent = await ping(client, acme, endpoint["id"])
        await settled_delivery(client, acme, endpoint["id"], recent["id"])
        engine = create_async_engine(owner_database(client))
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == uuid.UUID(old["id"]))
                    .values(finished_at=datetime(2000, 1, 1, tzinfo=UTC))
                )
        finally:
            await engine.dispose()
        runtime = client.app.state.job_runtime  # type: ignore[attr-defined]
        await purge_deliveries(runtime.context)
        remaining = await deliveries(client, acme, endpoint["id"])
    assert [item["id"] for item in remaining] == [recent["id"]]
