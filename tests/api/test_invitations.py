"""Invitations: emailed single-use links; accepted signed in or used to sign up; each failure its own code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.permissions import Role
from tests.conftest import ClientFactory
from tests.support.accounts import PASSWORD, bearer, login
from tests.support.factories import account_with_tokens, add_membership, make_user, signed_in
from tests.support.pages import assert_is_page, form_in, link_in, path_and_query, submit
from tests.support.smtp import MailSink
from tests.support.tenants import Tenant, make_tenant

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "a long new password for the invitee"


@pytest.fixture
async def acme(client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(client)


async def invite(
    client: httpx.AsyncClient,
    acme: Tenant,
    mail: MailSink,
    email: str,
    role: str = "member",
    by: Role = Role.ADMIN,
) -> str:
    """Invite `email` and return the token from the link in the mail it received."""
    response = await client.post(
        acme.path("/invitations"), headers=acme.auth[by], json={"email": email, "role": role}
    )
    assert response.status_code == 201, response.text
    message = mail.last_to(email.lower())
    assert "/invitations/accept?token=" in message.body
    return message.token()


async def test_an_existing_account_accepts_and_joins(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    token = await invite(client, acme, mail, "newcomer@example.com", role="accountant")
    newcomer = bearer((await account_with_tokens(client, "newcomer@example.com"))["access_token"])
    assert (await client.get(acme.path("/members"), headers=newcomer)).status_code == 404
    accepted = await client.post("/api/v1/invitations/accept", headers=newcomer, json={"token": token})
    assert accepted.status_code == 200
    assert accepted.json()["role"] == "accountant"
    assert (await client.get(acme.path("/members"), headers=newcomer)).status_code == 200
    again = await client.post("/api/v1/invitations/accept", headers=newcomer, json={"token": token})
    assert again.json()["code"] == "invitation_used"
    actions = [
        e["action"]
        for e in (await client.get(acme.path("/audit-log"), headers=acme.auth[Role.ADMIN])).json()["items"]
    ]
    assert actions == ["invitation.accepted", "invitation.created"]


async def test_a_newcomer_signs_up_through_the_link(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    token = await invite(client, acme, mail, "Fresh@Example.com", role="viewer")
    signed_up = await client.post(
        "/api/v1/invitations/signup",
        json={"token": token, "password": NEW_PASSWORD, "full_name": "Fresh Face"},
    )
    assert signed_up.status_code == 201, signed_up.text
    signed_in = await login(client, "fresh@example.com", NEW_PASSWORD)
    assert signed_in.status_code == 200  # verified by the link: no other mail needed
    me = bearer(signed_in.json()["access_token"])
    [membership] = (await client.get("/api/v1/users/me", headers=me)).json()["memberships"]
    assert (membership["org_id"], membership["role"]) == (str(acme.org_id), "viewer")
    reused = await client.post(
        "/api/v1/invitations/signup", json={"token": token, "password": NEW_PASSWORD, "full_name": "Again"}
    )
    assert reused.json()["code"] == "invitation_used"


async def test_the_wrong_account_cannot_accept(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    token = await invite(client, acme, mail, "intended@example.com")
    other = bearer((await account_with_tokens(client, "someone-else@example.com"))["access_token"])
    refused = await client.post("/api/v1/invitations/accept", headers=other, json={"token": token})
    assert refused.status_code == 403
    assert refused.json()["code"] == "invitation_wrong_account"
    intended = bearer((await account_with_tokens(client, "intended@example.com"))["access_token"])
    assert (
        await client.post("/api/v1/invitations/accept", headers=intended, json={"token": token})
    ).status_code == 200


async def test_revoked_expired_and_unknown_links_fail_distinctly(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink, database_url: str
) -> None:
    invitee = bearer((await account_with_tokens(client, "invitee@example.com"))["access_token"])
    revoked = await invite(client, acme, mail, "invitee@example.com")
    [pending] = (await client.get(acme.path("/invitations"), headers=acme.auth[Role.ADMIN])).json()["items"]
    assert (
        await client.delete(acme.path(f"/invitations/{pending['id']}"), headers=acme.auth[Role.ADMIN])
    ).status_code == 204
    answer = await client.post("/api/v1/invitations/accept", headers=invitee, json={"token": revoked})
    assert (answer.status_code, answer.json()["code"]) == (400, "invitation_revoked")

    mail.clear()
    expired = await invite(client, acme, mail, "invitee@example.com")
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE invitations SET expires_at = :past WHERE revoked_at IS NULL"),
            {"past": datetime.now(UTC) - timedelta(seconds=1)},
        )
    await engine.dispose()
    answer = await client.post("/api/v1/invitations/accept", headers=invitee, json={"token": expired})
    assert (answer.status_code, answer.json()["code"]) == (400, "invitation_expired")

    unknown = await client.post("/api/v1/invitations/accept", headers=invitee, json={"token": "x" * 43})
    assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid_invitation")
    assert (await client.get(acme.path("/members"), headers=invitee)).status_code == 404


async def test_a_new_invitation_replaces_the_pending_one(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    first = await invite(client, acme, mail, "twice@example.com")
    mail.clear()
    second = await invite(client, acme, mail, "twice@example.com")
    listed = (await client.get(acme.path("/invitations"), headers=acme.auth[Role.ADMIN])).json()
    assert listed["total"] == 1
    who = bearer((await account_with_tokens(client, "twice@example.com"))["access_token"])
    assert (await client.post("/api/v1/invitations/accept", headers=who, json={"token": first})).json()[
        "code"
    ] == "invitation_revoked"
    assert (
        await client.post("/api/v1/invitations/accept", headers=who, json={"token": second})
    ).status_code == 200


async def test_inviting_a_member_is_a_409(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.post(
        acme.path("/invitations"),
        headers=acme.auth[Role.ADMIN],
        json={"email": "viewer@acme.example.com", "role": "admin"},
    )
    assert (response.status_code, response.json()["code"]) == (409, "already_member")


async def test_accepting_when_already_a_member_is_a_409(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    token = await invite(client, acme, mail, "joiner@example.com")
    joiner = await make_user(client, "joiner@example.com", organization=None)
    # Joined meanwhile some other way (another invitation, accepted first).
    await add_membership(client, org_id=acme.org_id, user_id=joiner.id, role=Role.VIEWER)
    headers = bearer((await signed_in(client, joiner))["access_token"])
    refused = await client.post("/api/v1/invitations/accept", headers=headers, json={"token": token})
    assert (refused.status_code, refused.json()["code"]) == (409, "already_member")


async def test_only_owners_invite_owners_and_only_managers_invite(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    body = {"email": "boss@example.com", "role": "owner"}
    refused = await client.post(acme.path("/invitations"), headers=acme.auth[Role.ADMIN], json=body)
    assert (refused.status_code, refused.json()["code"]) == (403, "owner_protected")
    assert (
        await client.post(acme.path("/invitations"), headers=acme.auth[Role.OWNER], json=body)
    ).status_code == 201
    for role in (Role.ACCOUNTANT, Role.MEMBER, Role.VIEWER):
        assert (
            await client.post(
                acme.path("/invitations"),
                headers=acme.auth[role],
                json={"email": "x@example.com", "role": "viewer"},
            )
        ).status_code == 403
    assert (
        await client.post(
            acme.path("/invitations"),
            headers=acme.outsider,
            json={"email": "x@example.com", "role": "viewer"},
        )
    ).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not an address", "role": "member"},
        {"email": "a@example.com", "role": "emperor"},
        {"email": "a@example.com"},
        {"email": "a@example.com", "role": "member", "org_id": "x"},
        {"email": "a" * 400 + "@example.com", "role": "member"},
        {"email": "a@exa\u202emple.com", "role": "member"},
    ],
)
async def test_bad_invitations_are_422_and_send_nothing(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink, body: dict[str, Any]
) -> None:
    refused = await client.post(acme.path("/invitations"), headers=acme.auth[Role.ADMIN], json=body)
    assert refused.status_code == 422
    assert (await client.get(acme.path("/invitations"), headers=acme.auth[Role.ADMIN])).json()["total"] == 0
    assert mail.received() == []


async def test_two_uses_at_once_let_one_in(client: httpx.AsyncClient, acme: Tenant, mail: MailSink) -> None:
    token = await invite(client, acme, mail, "racer@example.com")
    racer = bearer((await account_with_tokens(client, "racer@example.com"))["access_token"])
    statuses: list[int] = []

    async def accept() -> None:
        statuses.append(
            (
                await client.post("/api/v1/invitations/accept", headers=racer, json={"token": token})
            ).status_code
        )

    async with anyio.create_task_group() as group:
        for _ in range(4):
            group.start_soon(accept)
    assert statuses.count(200) == 1
    members = (await client.get(acme.path("/members"), headers=acme.auth[Role.ADMIN])).json()
    assert [item["email"] for item in members["items"]].count("racer@example.com") == 1


async def test_signing_up_refuses_a_weak_password_and_a_taken_address(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    token = await invite(client, acme, mail, "taken@example.com")
    weak = await client.post(
        "/api/v1/invitations/signup", json={"token": token, "password": "short", "full_name": "T"}
    )
    assert weak.status_code == 422
    await account_with_tokens(client, "taken@example.com", password=PASSWORD)
    taken = await client.post(
        "/api/v1/invitations/signup", json={"token": token, "password": NEW_PASSWORD, "full_name": "T"}
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "already_registered")


async def test_one_address_receives_a_bounded_number_of_invitations(
    make_client: ClientFactory, mail: MailSink
) -> None:
    async with make_client(rate_limit_mail_per_recipient="2/hour") as client:
        acme = await make_tenant(client)
        body = {"email": "popular@example.com", "role": "viewer"}
        statuses = [
            (
                await client.post(acme.path("/invitations"), headers=acme.auth[Role.ADMIN], json=body)
            ).status_code
            for _ in range(3)
        ]
        assert statuses == [201, 201, 429]
        refused = await client.post(acme.path("/invitations"), headers=acme.auth[Role.ADMIN], json=body)
        assert int(refused.headers["retry-after"]) == 3600
        assert len(mail.to("popular@example.com")) == 2


async def test_the_emailed_link_opens_a_page_whose_form_joins(
    client: httpx.AsyncClient, acme: Tenant, mail: MailSink
) -> None:
    await client.post(
        acme.path("/invitations"),
        headers=acme.auth[Role.ADMIN],
        json={"email": "by-page@example.com", "role": "member"},
    )
    link = link_in(mail.last_to("by-page@example.com").body, "/invitations/accept")
    for _ in range(2):  # a mail scanner, then the person: opening spends nothing
        opened = await client.get(path_and_query(link))
        assert_is_page(opened, 200)
    form = form_in(opened)
    assert form.action == "/invitations/accept"
    differ = await submit(client, form, full_name="By Page", password=NEW_PASSWORD, password_again="other")
    assert_is_page(differ, 422)
    joined = await submit(
        client, form, full_name="By Page", password=NEW_PASSWORD, password_again=NEW_PASSWORD
    )
    assert_is_page(joined, 200)
    assert "you have joined" in joined.text
    signed_in = await login(client, "by-page@example.com", NEW_PASSWORD)
    assert signed_in.status_code == 200
    assert (
        await client.get(acme.path("/members"), headers=bearer(signed_in.json()["access_token"]))
    ).status_code == 200
    again = await submit(
        client, form, full_name="By Page", password=NEW_PASSWORD, password_again=NEW_PASSWORD
    )
    assert_is_page(again, 400)
    assert "already used" in again.text.lower() or "no longer works" in again.text
