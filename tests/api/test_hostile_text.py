"""Hostile Unicode in every normalised field: refused as sent, or stored exactly as validated.

Emails are normalised (NFKC, trimmed, lower-case) and names (NFC, trimmed) before they are
validated; these tests send what is harmless before normalisation and harmful after it.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.models import Organization, User
from tests.support.accounts import PASSWORD, bearer
from tests.support.factories import account_with_tokens
from tests.support.smtp import MailSink

pytestmark = pytest.mark.anyio

HOSTILE_EMAILS = {
    # NFKC turns each into address syntax: a second @, a list, a display name, a space.
    "fullwidth at and comma": "attacker\uff20evil.example\uff0cvictim@example.com",
    "fullwidth semicolon": "attacker\uff20evil.example\uff1bvictim@example.com",
    "fullwidth angle brackets": "victim\uff1cattacker\uff20evil.example\uff1e@example.com",
    "ideographic space": "victim\u3000attacker@example.com",
    "display name": "Victim <attacker@evil.example>",
    # 252 bytes as sent, 492 characters once normalised: past the column (String(320)).
    "expands past the limit": "\u3316" * 80 + "@example.com",
}
HOSTILE_NAMES = {
    "spaces": "   ",
    "line separator": "Bob\u2028Smith",
    "paragraph separator": "Bob\u2029Smith",
    "right-to-left override": "Bob\u202eSmith",
    "isolate": "Bob \u2066Smith\u2069",
    "right-to-left mark": "Bob\u200fSmith",
}
EMAIL_PARAMS = pytest.mark.parametrize("email", list(HOSTILE_EMAILS.values()), ids=list(HOSTILE_EMAILS))


def signup_body(**fields: str) -> dict[str, str]:
    return {
        "email": "someone@example.com",
        "password": PASSWORD,
        "full_name": "Test User",
        "organization_name": "Test Org",
        **fields,
    }


async def rows(database_url: str, statement: Any) -> list[Any]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(statement)).all())
    finally:
        await engine.dispose()


async def assert_nothing_created(database_url: str, mail: MailSink) -> None:
    [(users,)] = await rows(database_url, select(func.count()).select_from(User))
    [(organizations,)] = await rows(database_url, select(func.count()).select_from(Organization))
    assert (users, organizations) == (0, 0)
    assert mail.received() == []


def assert_refused(response: httpx.Response, loc: list[str], *, code: str = "validation_error") -> None:
    assert response.status_code == (400 if code == "invalid_token_request" else 422), response.text
    body = response.json()
    assert body["code"] == code
    assert [error["loc"] for error in body["errors"]] == [loc]


@EMAIL_PARAMS
async def test_signup_refuses_hostile_emails_and_creates_nothing(
    client: httpx.AsyncClient, mail: MailSink, database_url: str, email: str
) -> None:
    response = await client.post("/api/v1/auth/signup", json=signup_body(email=email))
    assert_refused(response, ["body", "email"])
    await assert_nothing_created(database_url, mail)


@EMAIL_PARAMS
async def test_forgot_password_refuses_hostile_emails(
    client: httpx.AsyncClient, mail: MailSink, email: str
) -> None:
    response = await client.post("/api/v1/auth/password/forgot", json={"email": email})
    assert_refused(response, ["body", "email"])
    assert mail.received() == []


@EMAIL_PARAMS
async def test_browser_sign_in_refuses_hostile_emails(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post("/api/v1/auth/session", json={"email": email, "password": PASSWORD})
    assert_refused(response, ["body", "email"])
    assert "set-cookie" not in response.headers


@EMAIL_PARAMS
async def test_token_form_refuses_hostile_usernames(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    # The token endpoint speaks RFC 6749: a malformed field is 400 `invalid_request`.
    assert_refused(response, ["body", "username"], code="invalid_token_request")
    assert response.json()["error"] == "invalid_request"


async def test_a_valid_unknown_address_still_gets_the_usual_invalid_grant(client: httpx.AsyncClient) -> None:
    token = await client.post(
        "/api/v1/auth/token", data={"username": "Nobody@Example.com", "password": PASSWORD}
    )
    browser = await client.post(
        "/api/v1/auth/session", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert token.status_code == browser.status_code == 400
    assert token.json()["code"] == browser.json()["code"] == "invalid_credentials"
    assert token.json()["error"] == browser.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("field", ["full_name", "organization_name"])
@pytest.mark.parametrize("name", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
async def test_signup_refuses_hostile_names_and_creates_nothing(
    client: httpx.AsyncClient, mail: MailSink, database_url: str, field: str, name: str
) -> None:
    response = await client.post("/api/v1/auth/signup", json=signup_body(**{field: name}))
    assert_refused(response, ["body", field])
    await assert_nothing_created(database_url, mail)


async def test_a_name_of_spaces_is_too_short(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/signup", json=signup_body(full_name=" \u3000 "))
    [error] = response.json()["errors"]
    assert (error["type"], error["message"]) == (
        "string_too_short",
        "String should have at least 1 character",
    )


@pytest.mark.parametrize("name", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
async def test_profile_update_refuses_hostile_names_and_changes_nothing(
    client: httpx.AsyncClient, database_url: str, name: str
) -> None:
    auth = bearer((await account_with_tokens(client, "me@example.com"))["access_token"])
    response = await client.patch("/api/v1/users/me", headers=auth, json={"full_name": name})
    assert_refused(response, ["body", "full_name"])
    assert await rows(database_url, select(User.full_name)) == [("Test User",)]


async def test_names_are_stored_in_nfc_with_emoji_sequences_intact(
    client: httpx.AsyncClient, mail: MailSink, database_url: str
) -> None:
    full_name = "  Zoe\u0308 Lo\u0301pez \U0001f469\u200d\U0001f4bb "  # decomposed, a ZWJ sequence
    organization = "Cafe\u0301 \U0001f468\u200d\U0001f469\u200d\U0001f467 \uff27\uff4d\uff42\uff28"
    response = await client.post(
        "/api/v1/auth/signup",
        json=signup_body(email="zoe@example.com", full_name=full_name, organization_name=organization),
    )
    assert response.status_code == 202, response.text
    [user] = await rows(database_url, select(User.full_name))
    [org] = await rows(database_url, select(Organization.name, Organization.slug))
    assert user.full_name == "Zo\u00eb L\u00f3pez \U0001f469\u200d\U0001f4bb"
    # NFC keeps the fullwidth letters a person typed; the slug, an identifier, folds them.
    assert org.name == "Caf\u00e9 \U0001f468\u200d\U0001f469\u200d\U0001f467 \uff27\uff4d\uff42\uff28"
    assert org.slug == "cafe-gmbh"
    assert unicodedata.is_normalized("NFC", user.full_name)

    verify = await client.post(
        "/api/v1/auth/verify-email", json={"token": mail.last_to("zoe@example.com").token()}
    )
    assert verify.status_code == 204
    login = await client.post(
        "/api/v1/auth/token", data={"username": "zoe@example.com", "password": PASSWORD}
    )
    auth = bearer(login.json()["access_token"])
    patched = await client.patch(
        "/api/v1/users/me", headers=auth, json={"full_name": "Rene\u0301e \u263a\ufe0f"}
    )
    assert patched.json()["full_name"] == "Ren\u00e9e \u263a\ufe0f"
    assert await rows(database_url, select(User.full_name)) == [("Ren\u00e9e \u263a\ufe0f",)]


async def test_a_fullwidth_upper_case_address_is_the_same_account_as_its_plain_spelling(
    client: httpx.AsyncClient, mail: MailSink, database_url: str
) -> None:
    # "DEV@Example.COM" with fullwidth letters.
    fullwidth = "\uff24\uff25\uff36@\uff25\uff58\uff41\uff4d\uff50\uff4c\uff45.COM"
    response = await client.post("/api/v1/auth/signup", json=signup_body(email=fullwidth))
    assert response.status_code == 202, response.text
    assert await rows(database_url, select(User.email)) == [("dev@example.com",)]
    [verification] = mail.received()
    assert verification.to == ["dev@example.com"]  # the SMTP envelope: one recipient, normalised

    verify = await client.post("/api/v1/auth/verify-email", json={"token": verification.token()})
    assert verify.status_code == 204
    token = await client.post(
        "/api/v1/auth/token", data={"username": "dev@example.com", "password": PASSWORD}
    )
    browser = await client.post(
        "/api/v1/auth/session", json={"email": "Dev@Example.com", "password": PASSWORD}
    )
    assert (token.status_code, browser.status_code) == (200, 201)
    me = await client.get("/api/v1/users/me", headers=bearer(token.json()["access_token"]))
    assert me.json()["email"] == "dev@example.com"

    # Signing up again with the plain spelling finds the same account: a notice, no second row.
    mail.clear()
    again = await client.post("/api/v1/auth/signup", json=signup_body(email="dev@example.com"))
    assert again.status_code == 202
    [notice] = mail.received()
    assert notice.to == ["dev@example.com"]
    assert "tried to sign up" in notice.subject
    assert await rows(database_url, select(func.count()).select_from(User)) == [(1,)]


async def test_the_openapi_document_states_the_rules(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    email = {"type": "string", "format": "email", "maxLength": 254}
    for model, field in [
        ("SignupRequest", "email"),
        ("ForgotPasswordRequest", "email"),
        ("BrowserSessionRequest", "email"),
        ("Body_auth-issue_token", "username"),
    ]:
        described = schemas[model]["properties"][field]
        assert {key: described[key] for key in email} == email, (model, field)
    for model, field in [("SignupRequest", "full_name"), ("SignupRequest", "organization_name")]:
        described = schemas[model]["properties"][field]
        assert (described["minLength"], described["maxLength"]) == (1, 200)
