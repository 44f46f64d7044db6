"""What `invoicer serve` reads from a client, bounded: header size, header time, connections.

uvicorn's httptools protocol reads request headers without limit: one header of 50 MB is
buffered whole (and re-copied on every read), and a connection that never finishes its headers
is held forever — nothing times the first request, and the keep-alive timer is cancelled by the
first byte of the next one. Such connections, one file descriptor each, exhaust the process's
limit. None of this reaches the ASGI app, so middleware cannot help.

`BoundedHttpToolsProtocol` subclasses that protocol and adds, per connection:
- a header budget: the request line and header fields may not exceed `max_header_bytes`, nor
  `max_header_fields` fields; past it the client gets 431 and the connection is closed;
- a header deadline: request headers must be complete within `header_timeout_seconds` of the
  connection opening or of the first byte of a later request; past it, 408 (or, if the client
  has sent nothing of a request, a plain close) — idle keep-alive stays uvicorn's timer;
- a connection cap per process: beyond `max_connections`, a new connection gets 503 and is
  closed at once, so connections cannot exhaust file descriptors.

Why this and not the alternatives:
- uvicorn's h11 protocol has `h11_max_incomplete_event_size`, but answers 400 rather than 431,
  has no header deadline either, and its pure-Python parser costs ~45% more CPU per request
  (`bench/server_limits.py --with-h11`: 0.72x the requests per second on `/livez`).
- Granian (Rust) bounds some of this natively, but would replace a server whose proxy-header,
  shutdown and worker behaviour the project already relies on and tests; not measured here.
- The overhead of this subclass is a few attribute updates per request and one timer per
  connection (none per request whose headers arrive in one read): 1-2% more CPU per request
  than the stock protocol in `bench/server_limits.py`, throughput within noise.

httptools reports the URL in fragments, but a header field only once it is complete, so the
field still arriving is counted by the reads that carry nothing else: a huge field is refused
at most one read (<= 256 KiB) past the budget, and a request within it is never refused.

Refusals are problem+json with codes from app/core/errors/. uvicorn builds the protocol from
`Config.http`; with `--workers N` that config is pickled into each worker, so the limits travel
as a `functools.partial` of this importable class (see `protocol_factory`).
"""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import httptools
from uuid_utils.compat import uuid7
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from app.api.middleware.security_headers import BASE_HEADERS
from app.api.problems import app_error_response
from app.core.config import Settings
from app.core.errors import (
    AppError,
    RequestHeaderFieldsTooLargeError,
    RequestHeaderTimeoutError,
    ServiceUnavailableError,
)
from app.core.logging import get_logger, request_id_var

logger = get_logger("invoicer.server")

# The request line around the URL: the method's separator, " HTTP/1.1", its CRLF, and the CRLF
# that ends the header block.
_REQUEST_LINE_OVERHEAD = len(b"  HTTP/1.1\r\n\r\n")
# Per header field: ": " and CRLF.
_FIELD_OVERHEAD = len(b": \r\n")
# Files a worker holds besides client connections: listening socket, standard streams, logs,
# Redis, the event loop's own, with room to spare (database connections are added separately).
OPEN_FILES_RESERVE = 64
# What the server itself may answer to a request it has read, whatever the route (for the
# OpenAPI document): 408 and 431 refuse requests that were never read, so no operation has them.
REQUEST_REFUSALS: tuple[type[AppError], ...] = (ServiceUnavailableError,)
_PROBLEM_HEADERS = [(name.lower().encode(), value.encode()) for name, value in BASE_HEADERS.items()]


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_bytes: int
    max_header_fields: int
    header_timeout_seconds: float
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            max_header_bytes=settings.max_request_header_bytes,
            max_header_fields=settings.max_request_header_fields,
            header_timeout_seconds=settings.request_header_timeout_seconds,
            max_connections=settings.max_connections_per_worker,
        )


class _HeadersTooLargeError(Exception):
    """Raised from a parser callback to stop parsing; httptools re-raises it as its context."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._header_timer: asyncio.TimerHandle | None = None
        self._reading_headers = False
        self._header_bytes = 0  # counted exactly from the parser's callbacks
        self._uncounted_bytes = 0  # reads inside a header field not yet reported
        self._parser_progressed = False
        self._refused = False  # the parser has stopped: what the client sends now is dropped

    # --- connection ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(
                ServiceUnavailableError(
                    "The server has too many open connections; retry shortly.",
                    headers={"Retry-After": "1"},
                ),
                "connection_refused",
                max_connections=self.limits.max_connections,
            )
            return
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's own, except that it answers a callback's refusal with 400; ours is a 431.
        if self._refused:
            return
        self._unset_keepalive_if_required()
        self._parser_progressed = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _HeadersTooLargeError):
                self._refuse_headers_too_large()
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._reading_headers:
            if self._parser_progressed:
                self._uncounted_bytes = 0
            else:
                self._uncounted_bytes += len(data)
                if self._header_bytes + self._uncounted_bytes > self.limits.max_header_bytes:
                    self._refuse_headers_too_large()
                    return
            self._start_header_timer()
        elif self.cycle is None or self.cycle.response_complete:
            # Bytes that begin no request (the rest of a body the app did not read) cancelled
            # the keep-alive timer above; without this they could hold the connection forever.
            self._start_header_timer()

    # --- parser callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_headers = True
        self._header_bytes = _REQUEST_LINE_OVERHEAD
        self._uncounted_bytes = 0
        self._parser_progressed = True

    def on_url(self, url: bytes) -> None:
        if not self.url:
            self._count_header_bytes(len(self.parser.get_method()))
        super().on_url(url)
        self._parser_progressed = True
        self._count_header_bytes(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._parser_progressed = True
        self._count_header_bytes(len(name) + len(value) + _FIELD_OVERHEAD)
        if len(self.headers) > self.limits.max_header_fields:
            raise _HeadersTooLargeError

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._cancel_header_timer()
        super().on_headers_complete()

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.limits.max_header_bytes:
            raise _HeadersTooLargeError

    # --- header deadline -----------------------------------------------------------------------

    def _start_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(
                self.limits.header_timeout_seconds, self._header_timeout
            )

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if not self._reading_headers:
            self.transport.close()  # nothing of a request was sent: nothing to answer
            return
        self._refuse(
            RequestHeaderTimeoutError(
                f"The request headers did not arrive within {self.limits.header_timeout_seconds:g} seconds."
            ),
            "request_header_timeout",
            timeout_seconds=self.limits.header_timeout_seconds,
        )

    # --- refusals --------------------------------------------------------------------------------

    def _refuse_headers_too_large(self) -> None:
        self._refuse(
            RequestHeaderFieldsTooLargeError(
                f"The request line and headers exceed {self.limits.max_header_bytes} bytes"
                f" or {self.limits.max_header_fields} fields."
            ),
            "request_header_too_large",
            max_bytes=self.limits.max_header_bytes,
            max_fields=self.limits.max_header_fields,
        )

    def _refuse(self, error: AppError, event: str, **log_fields: object) -> None:
        """Log, answer with the error's problem document, then close the connection.

        Behind pipelined requests still being answered, an answer now would be read as theirs:
        those are answered, then the connection closes, and the refused request gets nothing.
        """
        self._cancel_header_timer()
        self._reading_headers = False
        self._refused = True
        request_id = uuid7().hex
        logger.warning(
            event,
            status=error.status,
            peer=self.client[0] if self.client else None,
            request_id=request_id,
            **log_fields,
        )
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # the latest request: uvicorn closes after its answer
            return
        token = request_id_var.set(request_id)
        try:
            response = app_error_response(error)
        finally:
            request_id_var.reset(token)
        headers = [
            *self.server_state.default_headers,
            *response.raw_headers,
            *_PROBLEM_HEADERS,
            (b"x-request-id", request_id.encode()),
            (b"connection", b"close"),
        ]
        head = [STATUS_LINE[error.status]]
        for name, value in headers:
            head += [name, b": ", value, b"\r\n"]
        head.append(b"\r\n")
        self.transport.write(b"".join(head) + response.body)
        self.transport.close()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        # uvicorn answers its `limit_concurrency` with plain text; ours is problem+json.
        if app is service_unavailable:
            app = _overloaded
        super()._start_asgi_task(cycle, app)


async def _overloaded(scope: Any, receive: Any, send: Any) -> None:
    response = app_error_response(
        ServiceUnavailableError(
            "The server has too many requests in progress; retry shortly.",
            headers={"Retry-After": "1", "Connection": "close"},
        )
    )
    await response(scope, receive, send)


def protocol_factory(settings: Settings) -> type[asyncio.Protocol]:
    """The `http=` argument for uvicorn: picklable, so `--workers N` carries the limits along.

    uvicorn only ever calls it like the class (keyword arguments), hence the cast.
    """
    return cast(
        "type[asyncio.Protocol]",
        partial(BoundedHttpToolsProtocol, limits=ConnectionLimits.from_settings(settings)),
    )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The reading limits for `uvicorn.run`: protocol, keep-alive, concurrency, backlog."""
    return {
        "http": protocol_factory(settings),
        "timeout_keep_alive": settings.keep_alive_timeout_seconds,
        "limit_concurrency": settings.limit_concurrency,
        "backlog": settings.listen_backlog,
    }


class OpenFileLimitError(Exception):
    pass


def ensure_open_file_limit(settings: Settings) -> int:
    """Raise this process's soft open-file limit so each worker can hold its connections.

    Workers inherit the limit. Returns the soft limit; raises `OpenFileLimitError` when the hard
    limit is too low for `MAX_CONNECTIONS_PER_WORKER`, which would make the cap meaningless.
    """
    needed = (
        settings.max_connections_per_worker
        + settings.db_pool_size
        + settings.db_max_overflow
        + OPEN_FILES_RESERVE
    )
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise OpenFileLimitError(
                f"MAX_CONNECTIONS_PER_WORKER={settings.max_connections_per_worker} needs {needed} open"
                f" files per worker (with the database pool and a reserve), but the hard limit is"
                f" {hard}: lower it, or raise the limit (ulimit -n, LimitNOFILE=, --ulimit nofile=)."
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        logger.info("open_file_limit_raised", previous=soft, current=needed)
        return needed
    return soft
