"""A real webhook receiver on a loopback port, in a thread: what a customer's endpoint would be.

It records every request, answers what the test queued (a status, headers, a body, a delay),
verifies each request's signature with the reference `standardwebhooks` library against the
secrets the test gave it, and keeps the messages it accepted deduplicated by `webhook-id`, as a
careful receiver does.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.core.permissions import Role
from tests.support.network import free_port


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    answered: int
    # Which of the receiver's secrets verified it (standardwebhooks), by index; empty: none did.
    verified_by: list[int]

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def signatures(self) -> list[str]:
        return self.headers.get("webhook-signature", "").split(" ")


def verifies(secret: str, received: Received) -> bool:
    """Whether `standardwebhooks` accepts the request with `secret`."""
    try:
        Webhook(secret).verify(received.body, received.headers)
    except (WebhookVerificationError, ValueError):
        return False
    return True


class WebhookReceiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.secrets: list[str] = []
        self.default = Answer()
        self._answers: deque[Answer] = deque()
        self._received: list[Received] = []
        self._accepted: dict[str, Received] = {}
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control -------------------------------------------------------------------------

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port: later deliveries find nobody listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *answers: Answer) -> None:
        """Answer the next requests with these, in order (then with `default`)."""
        with self._changed:
            self._answers.extend(answers)

    # --- what arrived --------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        with self._changed:
            return list(self._received)

    @property
    def accepted(self) -> list[Received]:
        """The messages answered 2xx, once per `webhook-id` (the first)."""
        with self._changed:
            return list(self._accepted.values())

    def wait_for(self, count: int, *, timeout: float = 15.0) -> list[Received]:
        """Block until `count` requests have arrived (or fail after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self._received)}")
                self._changed.wait(remaining)
            return list(self._received)

    # --- the server side -------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length", "0"))
        body = request.rfile.read(length)
        headers = {name.lower(): value for name, value in request.headers.items()}
        with self._changed:
            answer = self._answers.popleft() if self._answers else self.default
        received = Received(
            path=request.path, headers=headers, body=body, answered=answer.status, verified_by=[]
        )
        received.verified_by = [
            index for index, secret in enumerate(self.secrets) if verifies(secret, received)
        ]
        if answer.delay:
            time.sleep(answer.delay)
        with self._changed:
            self._received.append(received)
            if 200 <= answer.status < 300:
                self._accepted.setdefault(received.webhook_id, received)
            self._changed.notify_all()
        try:
            request.send_response(answer.status)
            for name, value in answer.headers.items():
                request.send_header(name, value)
            request.send_header("Content-Length", str(len(answer.body)))
            request.end_headers()
            request.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (an answer past its limit) or gave up waiting


# --- the API calls the webhook tests share ---------------------------------------------------


async def create_endpoint(
    client: Any, tenant: Any, url: str, event_types: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    """A webhook endpoint made by the tenant's owner; its body, secret included."""
    response = await client.post(
        tenant.path("/webhook-endpoints"),
        headers=tenant.auth[Role.OWNER],
        json={"url": url, "event_types": event_types or ["customer.created"], **fields},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def deliveries(client: Any, tenant: Any, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(
        tenant.path(f"/webhook-endpoints/{endpoint_id}/deliveries"),
        headers=tenant.auth[Role.ADMIN],
        params=params,
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def delivery(client: Any, tenant: Any, endpoint_id: str, delivery_id: str) -> dict[str, Any]:
    response = await client.get(
        tenant.path(f"/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}"),
        headers=tenant.auth[Role.ADMIN],
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def settled_delivery(
    client: Any, tenant: Any, endpoint_id: str, delivery_id: str, *, within: float = 15.0
) -> dict[str, Any]:
    """The delivery once it succeeded or died (retries are woken by the sweeper meanwhile)."""
    deadline = time.monotonic() + within
    while True:
        found = await delivery(client, tenant, endpoint_id, delivery_id)
        if found["status"] in ("succeeded", "dead"):
            return found
        assert time.monotonic() < deadline, f"the delivery is still {found['status']}: {found}"
        await anyio.sleep(0.05)
