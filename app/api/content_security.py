"""Content-Security-Policy: which policy each response gets, decided in this one module.

Every response gets `API_POLICY` (SecurityHeadersMiddleware) unless its route chose another:
JSON and problem+json never need to load, run or frame anything, so a response that a
browser is tricked into rendering can do nothing either. An HTML page picks a `PagePolicy`
here and sends its response through `html_page()`, which allows the page's own inline
scripts and styles by their SHA-256 hash, never by 'unsafe-inline'. A new page adds its
policy below rather than loosening one it does not need.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field

from starlette.responses import HTMLResponse

HEADER = "Content-Security-Policy"

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
_NONE = ["'none'"]

# Inline elements only: a <script src=...> is allowed (or not) by its source, not its text.
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
_INLINE_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)


def _hashes(pattern: re.Pattern[str], html: str) -> list[str]:
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"
        for text in pattern.findall(html)
    ]


@dataclass(frozen=True)
class PagePolicy:
    """The sources of an HTML page; `script-src` and `style-src` gain its inline blocks' hashes."""

    directives: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def header_for(self, html: str) -> str:
        directives = {name: list(sources) for name, sources in self.directives.items()}
        for name, pattern in (("script-src", _INLINE_SCRIPT), ("style-src", _INLINE_STYLE)):
            inline = _hashes(pattern, html)
            # A hash would make browsers ignore 'unsafe-inline' in the same directive.
            if inline and "'unsafe-inline'" not in directives.get(name, []):
                directives.setdefault(name, []).extend(inline)
        return "; ".join(f"{name} {' '.join(sources or _NONE)}" for name, sources in directives.items())


_PAGE_BASE: dict[str, tuple[str, ...]] = {
    "default-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'none'",),
    "frame-ancestors": ("'none'",),
}

# Swagger UI (/docs): its bundle and stylesheet from this app, the OpenAPI document and "Try it
# out" requests to this app, icons inlined in its CSS as data: URIs, and the inline start-up
# script by hash. React sets styles through the CSSOM, which style-src does not govern.
SWAGGER_UI = PagePolicy(
    {
        **_PAGE_BASE,
        "script-src": ("'self'",),
        "style-src": ("'self'",),
        "img-src": ("'self'", "data:"),
        "connect-src": ("'self'",),
    }
)

# Swagger UI's OAuth2 redirect page: only its inline script, which hands the result back to
# the window that opened it.
SWAGGER_UI_OAUTH2_REDIRECT = PagePolicy({**_PAGE_BASE, "script-src": ()})

# ReDoc (/redoc): styled-components writes its rules into <style> elements it creates at run
# time, with no way to give them a nonce from outside the bundle, so styles (only styles) need
# 'unsafe-inline'; its search index runs in a worker made from a blob: URL.
REDOC = PagePolicy(
    {
        **_PAGE_BASE,
        "script-src": ("'self'",),
        "style-src": ("'self'", "'unsafe-inline'"),
        "img-src": ("'self'", "data:"),
        "connect-src": ("'self'",),
        "worker-src": ("blob:",),
    }
)

# The pages emailed links open (app/api/routers/pages.py): their one inline stylesheet by
# hash, and forms that post to this app. No scripts, images or connections at all.
EMAIL_LINK_PAGES = PagePolicy({**_PAGE_BASE, "style-src": (), "form-action": ("'self'",)})

# The hosted invoice page (app/api/routers/hosted_invoices.py): read-only, so not even a form;
# its one inline stylesheet by hash, and nothing else.
HOSTED_INVOICE_PAGE = PagePolicy({**_PAGE_BASE, "style-src": ()})


def html_page(response: HTMLResponse, policy: PagePolicy) -> HTMLResponse:
    """`response` with `policy`, its inline blocks allowed by hash."""
    response.headers[HEADER] = policy.header_for(bytes(response.body).decode())
    return response
