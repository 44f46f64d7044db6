"""Request id and trace id: accepted or generated, bound to every log line, echoed back."""

from __future__ import annotations

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uuid_utils.compat import uuid7

from app.api.routing import route_template
from app.core.logging import (
    is_acceptable_request_id,
    parse_traceparent,
    request_id_var,
)
from app.core.tracing import current_trace_id, name_request_span

REQUEST_ID_HEADER = "X-Request-ID"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        inbound = headers.get(REQUEST_ID_HEADER)
        request_id = inbound if inbound and is_acceptable_request_id(inbound) else uuid7().hex
        traceparent = parse_traceparent(headers.get("traceparent"))
        # The request's span, when tracing is on (it continues the caller's trace if any).
        trace_id = current_trace_id() or (traceparent.trace_id if traceparent else None)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
                name_request_span(method=scope["method"], route=route_template(scope))
            await send(message)

        request_token = request_id_var.set(request_id)
        try:
            context = {"request_id": request_id}
            if trace_id:
                context["trace_id"] = trace_id
            with structlog.contextvars.bound_contextvars(**context):
                await self.app(scope, receive, send_with_request_id)
        finally:
            request_id_var.reset(request_token)
