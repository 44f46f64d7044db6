"""Browser-hardening headers on every response; HSTS only when the request came over https.

- Content-Security-Policy: `content_security.API_POLICY` unless the route chose a page policy
  (see app/api/content_security.py).
- Cache-Control: no-store on every response to a request that carried credentials (an
  Authorization header or the browser-session cookie) and on every response that sets a
  cookie: they hold personal data or tokens that no browser or proxy cache may keep. A route
  that set its own Cache-Control keeps it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.content_security import API_POLICY
from app.api.content_security import HEADER as CSP_HEADER

BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS_VALUE = "max-age=31536000; includeSubDomains"
NO_STORE = "no-store"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, session_cookie_name: str) -> None:
        self.app = app
        # Plain over http, `__Host-` prefixed over https (app/api/dependencies/auth.py).
        self.session_cookies = frozenset({session_cookie_name, f"__Host-{session_cookie_name}"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # With --proxy-headers, uvicorn sets the scheme from X-Forwarded-Proto of trusted proxies.
        is_https = scope.get("scheme") == "https"
        with_credentials = self._carries_credentials(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in BASE_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault(CSP_HEADER, API_POLICY)
                if with_credentials or "set-cookie" in headers:
                    headers.setdefault("Cache-Control", NO_STORE)
                if is_https:
                    headers.setdefault("Strict-Transport-Security", HSTS_VALUE)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _carries_credentials(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                return True
            # Parsed as Request.cookies parses it, so what the auth dependency reads counts here.
            if name == b"cookie" and not self.session_cookies.isdisjoint(
                cookie_parser(value.decode("latin-1"))
            ):
                return True
        return False
