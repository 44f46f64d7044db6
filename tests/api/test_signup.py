"""Sign-up and email verification: the response never tells which emails exist."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.permissions import Role
from app.models import Membership, Organization, User
from tests.conftest import ClientFactory
from tests.support.accounts import PASSWORD, login, signup, verified_account
from tests.support.response_path import statements_before_response
from tests.support.smtp import MailSink

pytestmark = pytest.mark.anyio


async def count(database_url: str, model: type) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        await engine.dispose()


async def test_signup_creates_user_org_owner_and_sends_a_verification_link(
    client: httpx.AsyncClient, mail: MailSink, database_url: str
) -> None:
    response = await signup(client, "Alice@Example.COM", organization="Alice & Co")
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "detail": "Check your inbox to continue."}
    message = mail.last_to("alice@example.com")
    assert "Confirm your email" in message.subject
    assert message.body.count("verify-email?token=") == 1

    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        user = (
            await connection.execute(select(User.email, User.password_hash, User.email_verified_at))
        ).one()
        org = (await connection.execute(select(Organization.name, Organization.slug))).one()
        role = await connection.scalar(select(Membership.role))
    await engine.dispose()
    assert user.email == "alice@example.com"  # normalized
    assert user.password_hash.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in user.password_hash
    assert user.email_verified_at is None
    assert (org.name, org.slug) == ("Alice & Co", "alice-co")
    assert role == Role.OWNER


async def test_unverified_account_is_told_only_after_the_right_password(
    client: httpx.AsyncClient, mail: MailSink
) -> None:
    await signup(client, "bob@example.com")
    wrong = await login(client, "bob@example.com", "not the password at all")
    right = await login(client, "bob@example.com")
    assert wrong.status_code == right.status_code == 400
    assert wrong.json()["code"] == "invalid_credentials"
    assert right.json()["code"] == "email_not_verified"
    # Both are failed grants to an OAuth2 client (RFC 6749 §5.2).
    assert wrong.json()["error"] == right.json()["error"] == "invalid_grant"


async def test_verification_link_completes_signup(client: httpx.AsyncClient, mail: MailSink) -> None:
    await verified_account(client, mail, "carol@example.com")
    response = await login(client, "CAROL@example.com")  # any case signs in
    assert response.status_code == 200
    token = mail.last_to("carol@example.com").token()
    again = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 400  # single use
    assert again.json()["code"] == "invalid_one_time_token"


async def test_taken_email_answers_the_same_and_gets_a_notice(
    client: httpx.AsyncClient, mail: MailSink, database_url: str
) -> None:
    first = await signup(client, "dave@example.com")
    second = await signup(client, "Dave@Example.com", password="a different password 123")
    assert first.status_code == second.status_code == 202
    assert first.content == second.content
    messages = mail.to("dave@example.com")
    assert [m.subject for m in messages][-1].startswith("Someone tried to sign up")
    assert await count(database_url, User) == 1
    assert await count(database_url, Organization) == 1


async def test_the_sign_up_notice_links_to_the_forgot_password_page(
    make_client: ClientFactory, mail: MailSink
) -> None:
    async with make_client(public_base_url="https://invoicer.example/") as client:
        await signup(client, "erin@example.com")
        assert (await signup(client, "erin@example.com")).status_code == 202
    notice = mail.last_to("erin@example.com")
    assert "reset it at https://invoicer.example/forgot-password." in notice.body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD, "full_name": "X", "organization_name": "Y"}, "email"),
        (
            {"email": "not-an-email", "password": PASSWORD, "full_name": "X", "organization_name": "Y"},
            "email",
        ),
        (
            {"email": "e@example.com", "password": "short", "full_name": "X", "organization_name": "Y"},
            "password",
        ),
        (
            {"email": "e@example.com", "password": "x" * 5000, "full_name": "X", "organization_name": "Y"},
            "password",
        ),
        (
            {
                "email": "e@example.com",
                "password": "1Qaz2wsx3edc",
                "full_name": "X",
                "organization_name": "Y",
            },
            "password",
        ),
        (
            {"email": "e@example.com", "password": PASSWORD, "full_name": "", "organization_name": "Y"},
            "full_name",
        ),
        (
            {
                "email": "e@example.com",
                "password": PASSWORD,
                "full_name": "X" * 201,
                "organization_name": "Y",
            },
            "full_name",
        ),
        (
            {
                "email": "e@example.com",
                "password": PASSWORD,
                "full_name": "X",
                "organization_name": "Y",
                "role": "owner",
            },
            "role",
        ),
        (
            {
                "email": "e@example.com",
                "password": PASSWORD,
                "full_name": "X\u0000",
                "organization_name": "O",
            },
            "full_name",
        ),
        (
            {
                "email": "e@example.com",
                "password": PASSWORD,
                "full_name": "X",
                "organization_name": "Y\r\nZ",
            },
            "organization_name",
        ),
        (
            {
                "email": "e@" + "x" * 400 + ".com",
                "password": PASSWORD,
                "full_name": "X",
                "organization_name": "Y",
            },
            "email",
        ),
    ],
)
async def test_hostile_signup_input_is_422_and_creates_nothing(
    client: httpx.AsyncClient, mail: MailSink, database_url: str, body: dict[str, str], field: str
) -> None:
    response = await client.post("/api/v1/auth/signup", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {error["loc"][-1] for error in response.json()["errors"]}
    assert await count(database_url, User) == 0
    assert mail.to("e@example.com") == []


async def test_password_equal_to_the_email_is_refused(client: httpx.AsyncClient, database_url: str) -> None:
    response = await signup(client, "longname.person@example.com", password="longname.person@example.com")
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "password_policy"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"email=a@b.com", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/json"),
        (b"[]", "application/json"),
    ],
)
async def test_wrong_content_types_are_problems(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await client.post(
        "/api/v1/auth/signup", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_unicode_email_is_normalized(client: httpx.AsyncClient, mail: MailSink) -> None:
    await verified_account(client, mail, "Zoë@Exämple.com")
    assert (await login(client, "zoë@exämple.com")).status_code == 200


async def test_verify_rejects_garbage_tokens(client: httpx.AsyncClient) -> None:
    unknown = await client.post("/api/v1/auth/verify-email", json={"token": "A" * 43})
    hostile = await client.post("/api/v1/auth/verify-email", json={"token": "'; DROP TABLE users; --"})
    assert unknown.status_code == 400
    assert hostile.status_code == 422


async def test_same_organization_name_gets_a_distinct_slug(
    client: httpx.AsyncClient, mail: MailSink, database_url: str
) -> None:
    import asyncio

    responses = await asyncio.gather(
        *(signup(client, f"twin{index}@example.com", organization="Twin Corp") for index in range(3))
    )
    assert [response.status_code for response in responses] == [202, 202, 202]
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        slugs = sorted((await connection.scalars(select(Organization.slug))).all())
    await engine.dispose()
    assert len(set(slugs)) == 3
    assert "twin-corp" in slugs
    for index in range(3):  # each got a verification link, not a "someone tried" notice
        assert "Confirm your email" in mail.last_to(f"twin{index}@example.com").subject


async def test_concurrent_signups_with_one_email_create_one_account(
    client: httpx.AsyncClient, mail: MailSink, database_url: str
) -> None:
    import asyncio

    responses = await asyncio.gather(*(signup(client, "race@example.com") for _ in range(2)))
    assert [response.status_code for response in responses] == [202, 202]
    assert await count(database_url, User) == 1
    subjects = sorted(message.subject for message in mail.to("race@example.com"))
    assert len(subjects) == 2
    assert subjects[0].startswith("Confirm your email")
    assert subjects[1].startswith("Someone tried to sign up")


async def test_sign_up_does_its_work_after_the_response(client: httpx.AsyncClient, mail: MailSink) -> None:
    """A new address and a taken one: no query before the answer, so its timing tells nothing."""
    await verified_account(client, mail, "first@example.com")
    for email in ("first@example.com", "second@example.com"):
        body = {
            "email": email,
            "password": PASSWORD,
            "full_name": "Same Timing",
            "organization_name": "Timing Org",
        }
        assert await statements_before_response(client, "POST", "/api/v1/auth/signup", json=body) == [], email
    assert "already has one" in mail.last_to("first@example.com").body
    assert "verify-email?token=" in mail.last_to("second@example.com").body
