"""`Idempotency-Key` (IETF httpapi-idempotency-key-header): one dependency per POST route.

    @router.post(...)
    async def create_thing(..., session: SessionDep, _idempotent: Idempotent) -> Thing:

Put it last among the endpoint's parameters: FastAPI solves them in order, so the caller is
authenticated and authorised (404, 403, the organization's rate limit) before a stored
response is replayed to them. A route that must have a key (payments) takes
`IdempotencyRequired` instead. The route's router must be built with
`route_class=IdempotentRoute`: only the route can see the response the endpoint produced.

Where the response is captured, and why it commits with the effect: FastAPI runs a route's
handler (dependencies, endpoint, serialisation) inside the exit stack of its `scope="function"`
dependencies, and closes that stack, committing `SessionDep`, only after the handler returned
its `Response` (fastapi/routing.py, `request_response`). `IdempotentRoute` wraps the handler,
so it holds the finished response while the request's transaction is still open, and writes
the key through that same session: the commit that keeps the effect keeps the key; a rollback
loses both, and a retry executes again.

A replay is decided while the dependencies are solved, before the endpoint runs: the
dependency raises `_Replay`, which the route turns into the stored response (with the
headers the other dependencies set for this request, such as the rate-limit fields).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.contract import Declares, declare
from app.api.dependencies.auth import CurrentCaller
from app.api.dependencies.core import ServicesDep, SessionDep
from app.api.dependencies.streamed_body import streamed_body_of
from app.core.errors import (
    IdempotencyKeyRequiredError,
    IdempotencyKeyReusedError,
    IdempotencyRequestInFlightError,
    InvalidIdempotencyKeyError,
)
from app.core.security.idempotency import KEY_PATTERN, MAX_KEY_LENGTH, KeyMaterial, is_valid_key
from app.core.security.principal import ApiKeyPrincipal, Caller
from app.models.base import utcnow
from app.services import idempotency
from app.services.idempotency import StoredResponse

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_PENDING = "invoicer.idempotency.pending"
_CAPTURING = "invoicer.idempotency.capturing"
# Not stored: the length is recomputed, cookies must never be set again by a replay, and the
# rate-limit fields describe the request that carries them (a replay sends its own).
_NOT_REPLAYED = frozenset({"content-length", "set-cookie", "ratelimit", "ratelimit-policy", "retry-after"})


def caller_scope(caller: Caller) -> str:
    """Whose keys: a user's are theirs across organizations and sessions; an API key's its own."""
    if isinstance(caller, ApiKeyPrincipal):
        return f"api_key:{caller.api_key_id}"
    return f"user:{caller.user_id}"


class _Replay(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, response: Response) -> None:
        super().__init__("replay")
        self.response = response


@dataclass(frozen=True, slots=True)
class _Pending:
    session: AsyncSession
    material: KeyMaterial
    fingerprint: str
    ttl: timedelta

    async def record(self, response: Response) -> None:
        if not 200 <= response.status_code < 300:
            return  # a refusal is not the operation's outcome: a retry executes again
        body = getattr(response, "body", None)
        if not isinstance(body, bytes):
            raise TypeError("an idempotent route must answer with a complete body, not a stream")
        headers = tuple(
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in response.raw_headers
            if name.decode("latin-1").lower() not in _NOT_REPLAYED
        )
        await idempotency.record(
            self.session,
            material=self.material,
            fingerprint=self.fingerprint,
            response=StoredResponse(status=response.status_code, headers=headers, body=body),
            now=utcnow(),
            ttl=self.ttl,
        )


def _replay(stored: StoredResponse, current: Response) -> Response:
    response = Response(content=stored.body, status_code=stored.status)
    response.raw_headers.extend(
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in stored.headers
    )
    response.raw_headers.extend(current.raw_headers)
    response.raw_headers.append((REPLAYED_HEADER.lower().encode(), b"true"))
    return response


class Idempotency:
    """`Idempotent` (the key is optional) or `IdempotencyRequired` (400 without one)."""

    def __init__(self, *, required: bool = False) -> None:
        self.required = required
        problems: tuple[Any, ...] = (
            *((IdempotencyKeyRequiredError,) if required else ()),
            InvalidIdempotencyKeyError,
            IdempotencyRequestInFlightError,
            IdempotencyKeyReusedError,
        )
        declare(
            self,
            Declares(
                problems=problems,
                optional_success_headers=(REPLAYED_HEADER,),
                required_headers=(IDEMPOTENCY_HEADER,) if required else (),
            ),
        )

    async def __call__(
        self,
        request: Request,
        response: Response,
        caller: CurrentCaller,
        session: SessionDep,
        services: ServicesDep,
        key: Annotated[
            str | None,
            Header(
                alias=IDEMPOTENCY_HEADER,
                description="A unique value per operation you intend (a UUID does): a retry with "
                "the same key and the same request gets the first response again (marked "
                "`Idempotent-Replayed: true`) instead of doing it twice. Kept 24 hours by default, "
                "per caller; the same key with another request is a 422, while the first is still "
                "running a 409.",
                json_schema_extra={"minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN},
            ),
        ] = None,
    ) -> None:
        if not request.scope.get(_CAPTURING):
            raise RuntimeError(f"{request.url.path}: build its router with route_class=IdempotentRoute")
        if key is None:
            if self.required:
                raise IdempotencyKeyRequiredError
            return
        if not is_valid_key(key):
            raise InvalidIdempotencyKeyError
        material = services.idempotency_keyring.material(scope=caller_scope(caller), key=key)
        # The actual target (path parameters included) and the body's exact bytes: a retry
        # resends the same request; JSON that merely means the same is another request.
        # A route that streams its body (an upload) has it spooled once and hashed; the digest,
        # marked as such, stands for the bytes (app/api/dependencies/streamed_body.py).
        streamed = streamed_body_of(request)
        body = (await request.body(),) if streamed is None else (b"sha256", await streamed.spool())
        fingerprint = material.fingerprint(
            request.method.encode(),
            request.scope["path"].encode(),
            request.scope.get("query_string", b""),
            *body,
        )
        stored = await idempotency.begin(session, material=material, fingerprint=fingerprint, now=utcnow())
        if stored is not None:
            raise _Replay(_replay(stored, response))
        ttl = timedelta(seconds=services.settings.idempotency_key_ttl_seconds)
        request.scope[_PENDING] = _Pending(
            session=session, material=material, fingerprint=fingerprint, ttl=ttl
        )

    def __repr__(self) -> str:
        return f"Idempotency(required={self.required})"


Idempotent = Annotated[None, Depends(Idempotency())]
IdempotencyRequired = Annotated[None, Depends(Idempotency(required=True))]


class IdempotentRoute(APIRoute):
    """The route class of routers with idempotent POSTs: replays, and records what succeeded."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            request.scope[_CAPTURING] = True
            try:
                response = await handler(request)
            except _Replay as replay:
                return replay.response
            pending: _Pending | None = request.scope.pop(_PENDING, None)
            if pending is not None:
                # Still inside the function-scoped dependencies: the session has not committed.
                await pending.record(response)
            return response

        return handle


def is_idempotency_dependency(call: object) -> bool:
    return isinstance(call, Idempotency)
