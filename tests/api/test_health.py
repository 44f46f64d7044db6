"""Probes: /livez answers while dependencies are down; /readyz tells whether we can serve.

/readyz tells everyone pass or fail; which dependency failed, and how fast each answered, only
an operator (the METRICS_TOKEN bearer) or a deployment that made the details public.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI

from app.main import create_app
from tests.conftest import BROKER_URL, REDIS_URL, ClientFactory, running_app, settings_for_test
from tests.support.logs import json_log_lines

pytestmark = pytest.mark.anyio

HEALTH = "application/health+json"
UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"
OPERATOR_TOKEN = "operator-token-for-health-details-0123456789"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
DETAILS_PUBLIC = {"readyz_details_public": True}


async def test_readyz_tells_only_pass_or_fail_publicly(make_client: ClientFactory) -> None:
    async with make_client(
        redis_url=REDIS_URL, metrics_token=OPERATOR_TOKEN, health_check_timeout_seconds=5
    ) as client:
        anonymous = await client.get("/readyz")
        wrong = await client.get("/readyz", headers={"Authorization": "Bearer not-the-token"})
        operator = await client.get("/readyz", headers=OPERATOR)
    for response in (anonymous, wrong):
        assert response.status_code == 200
        assert response.headers["content-type"] == HEALTH
        assert response.json() == {"status": "pass"}
    assert operator.json()["checks"]["redis:responseTime"][0]["status"] == "pass"


async def test_readyz_failure_names_no_dependency_publicly(make_client: ClientFactory) -> None:
    async with make_client(redis_url="redis://127.0.0.1:1/0", metrics_token=OPERATOR_TOKEN) as client:
        anonymous = await client.get("/readyz")
        operator = await client.get("/readyz", headers=OPERATOR)
    assert anonymous.status_code == operator.status_code == 503
    assert anonymous.json() == {"status": "fail"}
    assert operator.json()["checks"]["redis:responseTime"][0]["status"] == "fail"


async def test_readyz_details_need_a_token_to_compare_with(make_client: ClientFactory) -> None:
    """Without METRICS_TOKEN there is no operator bearer: no header reveals the details."""
    async with make_client(metrics_token=None) as client:
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"}):
            assert (await client.get("/readyz", headers=headers)).json() == {"status": "pass"}


async def test_readyz_passes_on_a_migrated_database(make_client: ClientFactory) -> None:
    # A generous timeout: this is about what is checked; a first connection on a busy CI
    # machine once took longer than the production default of 0.8 s.
    async with make_client(health_check_timeout_seconds=5, **DETAILS_PUBLIC) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.headers["content-type"] == HEALTH
    body = response.json()
    assert body["status"] == "pass"
    [check] = [entries for key, entries in body["checks"].items() if key.endswith(":responseTime")]
    assert check[0]["status"] == "pass"
    assert response.headers["cache-control"] == "no-store"


async def test_readyz_checks_redis_and_broker_when_configured(make_client: ClientFactory) -> None:
    async with make_client(
        redis_url=REDIS_URL, broker_url=BROKER_URL, health_check_timeout_seconds=5, **DETAILS_PUBLIC
    ) as client:
        body = (await client.get("/readyz")).json()
    assert body["status"] == "pass"
    assert body["checks"]["redis:responseTime"][0]["status"] == "pass"
    assert body["checks"]["rabbitmq:responseTime"][0]["status"] == "pass"


async def test_readyz_checks_are_health_json_entries(make_client: ClientFactory) -> None:
    """Each check as the health+json draft has it: its kind, how long it took in ms, and when."""
    async with make_client(
        redis_url=REDIS_URL, broker_url=BROKER_URL, health_check_timeout_seconds=5, **DETAILS_PUBLIC
    ) as client:
        before, started = datetime.now(UTC), time.perf_counter()
        body = (await client.get("/readyz")).json()
        elapsed_ms, after = (time.perf_counter() - started) * 1000, datetime.now(UTC)
    database = next(key for key in body["checks"] if key in ("sqlite:responseTime", "postgres:responseTime"))
    kinds = dict.fromkeys((database, "redis:responseTime"), "datastore")
    assert {key: entries[0]["componentType"] for key, entries in body["checks"].items()} == {
        **kinds,
        "rabbitmq:responseTime": "component",
    }
    for [entry] in body["checks"].values():
        assert set(entry) == {"componentType", "status", "observedValue", "observedUnit", "time"}
        assert entry["observedUnit"] == "ms"
        assert 0 <= entry["observedValue"] <= elapsed_ms
        assert entry["observedValue"] == round(entry["observedValue"], 2)
        assert entry["time"].endswith("Z")
        observed = datetime.fromisoformat(entry["time"])
        assert before - timedelta(seconds=1) <= observed <= after + timedelta(seconds=1)


async def test_readyz_a_probe_past_the_timeout_fails_as_timed_out(make_client: ClientFactory) -> None:
    async with make_client(health_check_timeout_seconds=0.000001, **DETAILS_PUBLIC) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    [[entry]] = response.json()["checks"].values()
    assert (entry["status"], entry["output"]) == ("fail", "timed out")


async def test_readyz_fails_when_the_broker_is_unreachable(make_client: ClientFactory) -> None:
    async with make_client(
        broker_url="amqp://guest:guest@127.0.0.1:1/", health_check_timeout_seconds=5, **DETAILS_PUBLIC
    ) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    [entry] = response.json()["checks"]["rabbitmq:responseTime"]
    assert (entry["status"], entry["output"]) == ("fail", "unreachable")


async def test_readyz_logs_which_check_failed_and_how(
    make_client: ClientFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    """The public answer names no dependency; the log tells the operator which one and why."""
    async with make_client(redis_url="redis://127.0.0.1:1/0", log_level="INFO", log_format="json") as client:
        capfd.readouterr()
        assert (await client.get("/readyz")).status_code == 503
        logs = json_log_lines(capfd)
    [failed] = [line for line in logs if line.get("event") == "readiness_check_failed"]
    assert failed["check"] == "redis:responseTime"
    assert failed["error"] == "ConnectionError"


async def test_readyz_fails_when_redis_is_unreachable(make_client: ClientFactory) -> None:
    async with make_client(redis_url="redis://127.0.0.1:1/0", **DETAILS_PUBLIC) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis:responseTime"][0]["status"] == "fail"


async def unreachable_database_app() -> FastAPI:
    return create_app(
        settings_for_test(
            database_url=UNREACHABLE_POSTGRES, health_check_timeout_seconds=0.5, **DETAILS_PUBLIC
        )
    )


async def test_readyz_503_and_livez_200_with_database_down() -> None:
    async with running_app(await unreachable_database_app()) as client:
        ready = await client.get("/readyz")
        live = await client.get("/livez")
    assert ready.status_code == 503
    assert ready.headers["content-type"] == HEALTH
    body = ready.json()
    assert body["status"] == "fail"
    assert body["checks"]["postgres:responseTime"][0]["output"] in ("unreachable", "timed out")
    assert "127.0.0.1" not in ready.text  # component status only, no internals
    assert live.status_code == 200


async def test_readyz_503_when_migrations_are_not_applied(sqlite_url: str) -> None:
    async with running_app(
        create_app(settings_for_test(database_url=sqlite_url, **DETAILS_PUBLIC))
    ) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["sqlite:responseTime"][0]["output"] == (
        "schema is not at the latest migration"
    )


async def test_readyz_503_once_draining(make_client: ClientFactory) -> None:
    async with make_client(**DETAILS_PUBLIC) as client:
        app = client._transport.app  # type: ignore[attr-defined]
        assert (await client.get("/readyz")).status_code == 200
        app.state.lifecycle.begin_drain()
        response = await client.get("/readyz")
        live = await client.get("/livez")
    assert response.status_code == 503
    assert response.json()["output"] == "shutting down"
    assert response.json()["checks"]["process:shutdown"] == [{"status": "fail", "output": "shutting down"}]
    assert live.status_code == 200
