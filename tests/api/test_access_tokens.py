"""Access tokens: every way a JWT can be wrong is a 401 with WWW-Authenticate (RFC 8725)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.core.security.jwt import key_id, private_key_pem, public_key_pem
from tests.conftest import ClientFactory
from tests.support.accounts import bearer, login
from tests.support.factories import account_with_tokens, make_user
from tests.support.network import free_port

pytestmark = pytest.mark.anyio

ME = "/api/v1/users/me"
INVALID = 'Bearer error="invalid_token"'


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return payload


def header_of(token: str) -> dict[str, Any]:
    header: dict[str, Any] = jwt.get_unverified_header(token)
    return header


def _jwk_of(private_key: Ed25519PrivateKey) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64(private_key.public_key().public_bytes_raw())}


class KeyServer:
    """A loopback HTTP server that hands out a JWKS and counts who asked for it."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        body = json.dumps(jwks).encode()
        owner = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                return

        self._server = HTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/jwks.json"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> KeyServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
async def signed_in(client: httpx.AsyncClient) -> tuple[httpx.AsyncClient, dict[str, Any]]:
    return client, await account_with_tokens(client, "tokens@example.com")


async def test_valid_token_works(client: httpx.AsyncClient) -> None:
    await make_user(client, "tokens@example.com")
    signed_in = await login(client, "tokens@example.com")
    assert signed_in.status_code == 200
    tokens = signed_in.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    response = await client.get(ME, headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.json()["email"] == "tokens@example.com"
    header, claims = header_of(tokens["access_token"]), claims_of(tokens["access_token"])
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "at+jwt"
    assert {"iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp"} <= set(claims)


async def test_no_token_is_401_with_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get(ME)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "unauthenticated"


def tamper_payload(token: str) -> str:
    header, _payload, signature = token.split(".")
    claims = claims_of(token)
    claims["sub"] = "00000000-0000-7000-8000-000000000000"
    return f"{header}.{b64(claims)}.{signature}"


def alg_none(token: str) -> str:
    header = header_of(token) | {"alg": "none"}
    return f"{b64(header)}.{b64(claims_of(token))}."


def hs256_with_public_key(public_pem: str) -> Callable[[str], str]:
    def forge(token: str) -> str:
        header = header_of(token) | {"alg": "HS256"}
        signing_input = f"{b64(header)}.{b64(claims_of(token))}"
        import hashlib
        import hmac

        signature = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(signature)}"

    return forge


def resigned(private_key: Ed25519PrivateKey, **changes: Any) -> Callable[[str], str]:
    def forge(token: str) -> str:
        claims = claims_of(token) | changes.pop("claims", {})
        header = header_of(token) | changes
        header.pop("alg", None)
        return jwt.encode(claims, private_key, algorithm="EdDSA", headers=header)

    return forge


@pytest.mark.parametrize(
    "forge_name",
    [
        "tampered",
        "alg_none",
        "hs256_public_key",
        "other_key_same_kid",
        "other_key_own_kid",
        "expired",
        "future_nbf",
        "wrong_aud",
        "wrong_iss",
        "no_typ",
        "other_typ",
        "missing_sid",
        "embedded_jwk",
        "garbage",
    ],
)
async def test_forged_or_invalid_tokens_are_401(
    signed_in: tuple[httpx.AsyncClient, dict[str, Any]], forge_name: str
) -> None:
    client, tokens = signed_in
    token = tokens["access_token"]
    app = client.app  # type: ignore[attr-defined]
    jwks = app.state.services.token_codec.jwks()["keys"][0]
    stranger = Ed25519PrivateKey.generate()
    now = int(time.time())
    forgeries: dict[str, Callable[[str], str]] = {
        "tampered": tamper_payload,
        "alg_none": alg_none,
        "hs256_public_key": hs256_with_public_key(
            public_key_pem(app.state.services.token_codec._signing_key.public_key())
        ),
        "other_key_same_kid": resigned(stranger),
        "other_key_own_kid": resigned(stranger, kid=key_id(stranger.public_key())),
        "expired": resigned(stranger, claims={"exp": now - 3600}),
        "future_nbf": resigned(stranger, claims={"nbf": now + 3600}),
        "wrong_aud": resigned(stranger, claims={"aud": "someone-else"}),
        "wrong_iss": resigned(stranger, claims={"iss": "evil"}),
        "no_typ": resigned(stranger, typ=None),
        "other_typ": resigned(stranger, typ="refresh+jwt"),
        "missing_sid": resigned(stranger, claims={"sid": None}),
        "embedded_jwk": resigned(stranger, jwk={**jwks, "x": b64(stranger.public_key().public_bytes_raw())}),
        "garbage": lambda _: "not.a.jwt",
    }
    response = await client.get(ME, headers=bearer(forgeries[forge_name](token)))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == INVALID
    assert response.json()["code"] == "invalid_token"


@pytest.mark.parametrize(
    ("claim_change", "typ", "accepted"),
    [
        ({"exp": -3600}, "at+jwt", False),
        ({"nbf": 3600}, "at+jwt", False),
        ({"aud": "other"}, "at+jwt", False),
        ({"iss": "other"}, "at+jwt", False),
        ({}, None, False),  # no `typ`: a JWT of any purpose could pass for an access token
        ({}, "JWT", False),
        ({}, "refresh+jwt", False),
        ({}, "at+jwt", True),
    ],
)
async def test_claims_checked_with_our_own_key(
    signed_in: tuple[httpx.AsyncClient, dict[str, Any]],
    claim_change: dict[str, Any],
    typ: str | None,
    accepted: bool,
) -> None:
    """Signed with the real key, so only the claim or the type itself can make it fail."""
    client, tokens = signed_in
    codec = client.app.state.services.token_codec  # type: ignore[attr-defined]
    claims = claims_of(tokens["access_token"])
    for name, value in claim_change.items():
        claims[name] = claims[name] + value if isinstance(value, int) else value
    token = jwt.encode(
        claims, codec._signing_key, algorithm="EdDSA", headers={"kid": codec.current_kid, "typ": typ}
    )
    assert header_of(token).get("typ") == typ  # PyJWT drops a `typ` of None
    response = await client.get(ME, headers=bearer(token))
    assert (response.status_code == 200) is accepted


async def test_expiry_is_enforced_with_bounded_leeway(
    signed_in: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    """The first request also leaves the token in the verified-token cache: it expires there too."""
    client, tokens = signed_in
    expires = claims_of(tokens["access_token"])["exp"]
    with time_machine.travel(expires + 20, tick=False):  # within the 30 s leeway
        assert (await client.get(ME, headers=bearer(tokens["access_token"]))).status_code == 200
    with time_machine.travel(expires + 61, tick=False):
        response = await client.get(ME, headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == INVALID


@pytest.mark.parametrize("header", ["jku", "x5u"])
async def test_keys_named_by_the_token_are_never_fetched(
    signed_in: tuple[httpx.AsyncClient, dict[str, Any]], header: str
) -> None:
    """A token signed by a stranger points at a real server offering the stranger's key."""
    client, tokens = signed_in
    stranger = Ed25519PrivateKey.generate()
    offered = {"keys": [{**_jwk_of(stranger), "kid": key_id(stranger.public_key())}]}
    with KeyServer(offered) as server:
        forged = resigned(stranger, kid=key_id(stranger.public_key()), **{header: server.url})
        response = await client.get(ME, headers=bearer(forged(tokens["access_token"])))
    assert response.status_code == 401
    assert server.requests == 0  # keys come from configuration only


async def test_refresh_token_is_not_an_access_token(
    signed_in: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    client, tokens = signed_in
    response = await client.get(ME, headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == INVALID


async def test_jwks_publishes_the_verifying_key(signed_in: tuple[httpx.AsyncClient, dict[str, Any]]) -> None:
    client, tokens = signed_in
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    [key] = response.json()["keys"]
    assert key["kid"] == header_of(tokens["access_token"])["kid"]
    assert "d" not in key  # public half only
    public_key = jwt.PyJWK(key).key
    claims = jwt.decode(tokens["access_token"], public_key, algorithms=["EdDSA"], audience="invoicer-api")
    assert claims["iss"] == "invoicer"


async def test_key_rotation_keeps_tokens_of_the_previous_key(make_client: ClientFactory) -> None:
    old_key, new_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    async with make_client(jwt_private_key=private_key_pem(old_key)) as client:
        tokens = await account_with_tokens(client, "rotate@example.com")
    rotated = {
        "jwt_private_key": private_key_pem(new_key),
        "jwt_previous_public_keys": [public_key_pem(old_key.public_key())],
    }
    async with make_client(**rotated) as client:
        old_token_works = await client.get(ME, headers=bearer(tokens["access_token"]))
        fresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        jwks = (await client.get("/.well-known/jwks.json")).json()
    assert old_token_works.status_code == 200
    assert fresh.status_code == 200
    assert header_of(fresh.json()["access_token"])["kid"] == key_id(new_key.public_key())
    assert {key["kid"] for key in jwks["keys"]} == {
        key_id(old_key.public_key()),
        key_id(new_key.public_key()),
    }
    async with make_client(jwt_private_key=private_key_pem(new_key)) as client:
        dropped = await client.get(ME, headers=bearer(tokens["access_token"]))
    assert dropped.status_code == 401


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"data": {"password": "x"}}, "username"),
        ({"data": {"username": "a@example.com"}}, "password"),
        ({"data": {"username": "a@example.com", "password": "p" * 5000}}, "password"),
        ({"json": {"username": "a@example.com", "password": "p"}}, "username"),
        ({"content": b"username=%zz&password=%", "headers": {"content-type": "multipart/form-data"}}, "body"),
    ],
)
async def test_malformed_token_requests_are_400_invalid_request(
    client: httpx.AsyncClient, kwargs: dict[str, Any], field: str
) -> None:
    """RFC 6749 §5.2: a missing or malformed parameter is 400 `invalid_request`, not a 422."""
    response = await client.post("/api/v1/auth/token", **kwargs)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["error"], body["code"]) == ("invalid_request", "invalid_token_request")
    assert body["error_description"] == body["detail"]
    assert field in {error["loc"][-1] for error in body["errors"]}
    assert "p" * 100 not in response.text


async def test_another_grant_type_is_400_unsupported_grant_type(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token",
        data={"username": "not an address", "password": "p", "grant_type": "client_credentials"},
    )
    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["code"]) == ("unsupported_grant_type", "unsupported_grant_type")
    assert body["type"] == "urn:invoicer:problem:unsupported_grant_type"
    assert body["request_id"] == response.headers["x-request-id"]


def test_dev_keeps_a_generated_signing_key_under_var(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.core.config import load_settings
    from app.core.security.keys import signing_keys

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JWT_PRIVATE_KEY", raising=False)
    settings = load_settings(app_env="dev")
    first, _ = signing_keys(settings)
    second, _ = signing_keys(settings)
    key_file = tmp_path / "var" / "jwt-signing-key.pem"
    assert key_file.is_file()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert key_id(first.public_key()) == key_id(second.public_key())  # survives restarts


async def test_revocation_costs_one_lookup_per_request(
    signed_in: tuple[httpx.AsyncClient, dict[str, Any]],
) -> None:
    """The principal is declared by the router and by the endpoint; FastAPI resolves it once
    per request (dependency caching), so the revocation set is asked exactly once."""
    client, tokens = signed_in
    store = client.app.state.services.revocations  # type: ignore[attr-defined]
    calls: list[object] = []
    original = store.is_revoked

    async def counting(session_id: Any) -> bool:
        calls.append(session_id)
        return bool(await original(session_id))

    store.is_revoked = counting
    response = await client.get(ME, headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert len(calls) == 1
