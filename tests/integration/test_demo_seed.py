"""`invoicer seed-demo`: the documented logins exist, verified, with their roles; idempotent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import Settings
from app.core.security.passwords import PasswordHasher
from app.db.session import Database
from app.db.session.tenancy import system_scope
from app.models import Membership, Organization, User
from app.services.demo import DEMO_USERS, seed_demo_data
from app.services.demo_billing import DEMO_BOOKS, seed_demo_billing
from tests.conftest import ClientFactory, settings_for_test
from tests.support.accounts import login

pytestmark = pytest.mark.anyio


async def seed(settings: Settings) -> str:
    database = Database(settings)
    try:
        async with database.unit_of_work() as session:
            await system_scope(session, "cli")  # as the CLI does
            return await seed_demo_data(
                session=session, hasher=PasswordHasher.from_settings(settings), settings=settings
            )
    finally:
        await database.dispose()


async def test_seed_is_idempotent_and_the_logins_work(make_client: ClientFactory, database_url: str) -> None:
    settings = settings_for_test(database_url=database_url, demo_password="a demo password for tests")
    first, second = await seed(settings), await seed(settings)
    assert first.splitlines()[:2] == [
        "Demo data: 6 new users.",
        "  Sign in with (password: the DEMO_PASSWORD you set):",
    ]
    assert first.splitlines()[2:8] == [f"    {email:<32} {role.value}" for email, _, _, role in DEMO_USERS]
    keys_heading, *key_lines = first.splitlines()[8:]
    assert keys_heading == "  API keys (read-only scopes; shown this once, never again):"
    keys = dict(line.split() for line in key_lines)
    assert sorted(keys) == ["acme", "globex"]
    assert all(secret.startswith("ik_") for secret in keys.values())
    assert second.splitlines()[0] == "Demo data: 0 new users."
    assert "API keys" not in second  # made once, shown once
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(User.email, Organization.slug, Membership.role, User.email_verified_at)
                .join(Membership, Membership.user_id == User.id)
                .join(Organization, Organization.id == Membership.org_id)
            )
        ).all()
    await engine.dispose()
    assert sorted((r.email, r.slug, r.role) for r in rows) == sorted(
        (email, slug, role.value) for email, _, slug, role in DEMO_USERS
    )
    assert all(r.email_verified_at is not None for r in rows)
    async with engine.begin() as connection:  # one login removed: a later seed adds it back alone
        member = select(User.id).where(User.email == "member@acme.example.com").scalar_subquery()
        await connection.execute(delete(Membership).where(Membership.user_id == member))
        await connection.execute(delete(User).where(User.email == "member@acme.example.com"))
    await engine.dispose()
    default = await seed(settings_for_test(database_url=database_url))
    assert default.splitlines()[:2] == [
        "Demo data: 1 new users.",
        "  Sign in with (password: invoicer-demo-password):",
    ]
    async with make_client() as client:
        response = await login(client, "owner@acme.example.com", "a demo password for tests")
        assert response.status_code == 200
        owner = {"Authorization": f"Bearer {response.json()['access_token']}"}
        [acme] = (await client.get("/api/v1/orgs", headers=owner)).json()["items"]
        key = {"Authorization": f"Bearer {keys['acme']}"}
        assert (await client.get(f"/api/v1/orgs/{acme['id']}/members", headers=key)).status_code == 200
        assert (await client.get(f"/api/v1/orgs/{acme['id']}/api-keys", headers=key)).status_code == 403
        history = (await client.get(f"/api/v1/orgs/{acme['id']}/audit-log", headers=owner)).json()["items"]
        assert [entry["action"] for entry in history] == ["invitation.created", "api_key.created"]
        pending = (await client.get(f"/api/v1/orgs/{acme['id']}/invitations", headers=owner)).json()["items"]
        assert [(item["email"], item["role"]) for item in pending] == [
            ("new.hire@acme.example.com", "accountant")
        ]
        assert history[-1]["actor_id"] == (await client.get("/api/v1/users/me", headers=owner)).json()["id"]


async def seed_books(settings: Settings) -> list[str]:
    """As the CLI does: one unit of work per organization."""
    database = Database(settings)
    reports = []
    try:
        for slug in DEMO_BOOKS:
            async with database.unit_of_work() as session:
                await system_scope(session, "cli")
                reports.append(await seed_demo_billing(session=session, slug=slug))
    finally:
        await database.dispose()
    return reports


async def test_the_demo_books_hold_every_state_in_three_currencies(
    make_client: ClientFactory, database_url: str
) -> None:
    settings = settings_for_test(database_url=database_url, demo_password="a demo password for tests")
    await seed(settings)
    assert await seed_books(settings) == [
        "  acme: 20 customers, 200 invoices with payments (EUR, JPY, KWD)",
        "  globex: 3 customers, 8 invoices with payments (EUR, JPY, KWD)",
    ]
    assert await seed_books(settings) == [
        "  acme: invoicing data present, left alone",
        "  globex: invoicing data present, left alone",
    ]
    async with make_client() as client:
        token = (await login(client, "owner@acme.example.com", "a demo password for tests")).json()
        owner = {"Authorization": f"Bearer {token['access_token']}"}
        [acme] = (await client.get("/api/v1/orgs", headers=owner)).json()["items"]
        base = f"/api/v1/orgs/{acme['id']}"
        customers = (await client.get(f"{base}/customers", headers=owner, params={"limit": 200})).json()[
            "items"
        ]
        assert len(customers) == 20
        book = (await client.get(f"{base}/invoices", headers=owner, params={"limit": 200})).json()
        assert (len(book["items"]), book["next_cursor"]) == (200, None)
        assert {item["status"] for item in book["items"]} == {"draft", "open", "paid", "void"}
        assert {item["currency"] for item in book["items"]} == {"EUR", "JPY", "KWD"}
        assert any(
            item["status"] == "open" and item["amount_paid"] not in ("0", "0.00", "0.000")
            for item in book["items"]
        )
        assert all("." not in item["total"] for item in book["items"] if item["currency"] == "JPY")
        assert all(
            len(item["total"].split(".")[1]) == 3 for item in book["items"] if item["currency"] == "KWD"
        )
        paid = next(item for item in book["items"] if item["status"] == "paid")
        payments = (await client.get(f"{base}/invoices/{paid['id']}/payments", headers=owner)).json()["items"]
        assert sum(Decimal(payment["amount"]) for payment in payments) == Decimal(paid["total"])
        numbers = sorted(item["number"] for item in book["items"] if item["number"])
        assert numbers == [f"{numbers[0][:9]}{index:06d}" for index in range(1, len(numbers) + 1)]
