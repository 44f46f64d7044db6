"""Small HTML pages for people (app/api/routers/pages.py): one layout, every value escaped.

`render()` HTML-escapes each value it inserts (quotes included, so a value is safe inside a
double-quoted attribute too), unless the value is `Markup`, which only `render()` produces:
text from a request cannot become markup without passing through `html.escape`.

No scripts and nothing loaded from elsewhere: the page's one stylesheet is inline, allowed by
its hash (app/api/content_security.py), never by 'unsafe-inline'.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from string import Template

from starlette.responses import HTMLResponse

from app.api import content_security


class Markup(str):
    """HTML that `render()` built: inserted into another template as it is."""

    __slots__ = ()


def render(template: str, /, **values: str) -> Markup:
    """`template` with `$name` placeholders filled; plain strings are escaped, Markup is not."""
    return Markup(
        Template(template).substitute(
            {name: value if isinstance(value, Markup) else escape(value) for name, value in values.items()}
        )
    )


def join(*parts: Markup) -> Markup:
    return Markup("\n".join(parts))


_STYLE = Markup(
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:#1f2328;background:#f6f8fa}"
    "main{max-width:28rem;margin:8vh auto;padding:2rem;background:#fff;"
    "border:1px solid #d0d7de;border-radius:8px}"
    "h1{font-size:1.4rem;margin:0 0 1rem}"
    "label{display:block;margin:1rem 0 .25rem;font-weight:600}"
    "input{box-sizing:border-box;width:100%;padding:.5rem;font:inherit;"
    "border:1px solid #d0d7de;border-radius:6px}"
    "button{margin-top:1.25rem;padding:.6rem 1.2rem;font:inherit;font-weight:600;color:#fff;"
    "background:#1f6feb;border:0;border-radius:6px;cursor:pointer}"
    ".error{padding:.75rem 1rem;color:#82071e;background:#ffebe9;border:1px solid #ff8182;"
    "border-radius:6px}"
    ".hint{color:#59636e;font-size:.9rem}"
    "main:has(.invoice){max-width:48rem}"
    "table{width:100%;border-collapse:collapse;margin:1rem 0}"
    "th,td{padding:.35rem .5rem;border-bottom:1px solid #d0d7de;text-align:left;vertical-align:top}"
    ".num{text-align:right;white-space:nowrap}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:1rem 0}"
    "dt{font-weight:600}dd{margin:0}"
    ".status{display:inline-block;padding:.1rem .6rem;border-radius:1rem;background:#ddf4ff;"
    "font-weight:600;text-transform:uppercase;font-size:.85rem}"
    ".status-void{background:#ffebe9;color:#82071e}.status-paid{background:#dafbe1;color:#116329}"
)

_LAYOUT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>$title · $app_name</title>
<style>$style</style>
</head>
<body>
<main>
<h1>$title</h1>
$content
</main>
</body>
</html>
"""

# An emailed token travels in these pages' URLs and forms: no cache may keep a page, and no
# request the page leads to (a link followed) may carry its URL in a Referer. The security
# headers middleware sends the same Referrer-Policy everywhere; these pages do not rely on it.
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def page(
    *,
    app_name: str,
    title: str,
    content: Markup,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    policy: content_security.PagePolicy = content_security.EMAIL_LINK_PAGES,
) -> HTMLResponse:
    html = render(_LAYOUT, app_name=app_name, title=title, style=_STYLE, content=content)
    response = HTMLResponse(html, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})})
    return content_security.html_page(response, policy)
