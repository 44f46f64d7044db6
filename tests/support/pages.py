"""Following emailed links and submitting the HTML forms they open, as a browser would."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx

LINK = re.compile(r"https?://\S+")


def link_in(body: str, path: str) -> str:
    """The URL in an email's text whose path is `path`, query string included."""
    urls: list[str] = [url.rstrip(".") for url in LINK.findall(body)]
    links = [url for url in urls if urlsplit(url).path == path]
    assert len(links) == 1, f"no single {path} link in: {body!r}"
    return links[0]


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@dataclass
class Form:
    method: str = "get"
    action: str = ""
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(
                Form(method=values.get("method", "get").lower(), action=values.get("action", ""))
            )
        elif tag == "input" and self.forms and "name" in values:
            self.forms[-1].fields[values["name"]] = values.get("value", "")


def form_in(page: httpx.Response) -> Form:
    """The page's one form, its values decoded as a browser decodes them."""
    assert page.headers["content-type"].startswith("text/html"), page.headers["content-type"]
    parser = _FormParser()
    parser.feed(page.text)
    assert len(parser.forms) == 1, page.text
    return parser.forms[0]


async def submit(client: httpx.AsyncClient, form: Form, **filled: str) -> httpx.Response:
    """POST the form, form-encoded, with its hidden values and the fields a person filled in."""
    assert form.method == "post"
    return await client.post(form.action, data={**form.fields, **filled})


def assert_is_page(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    policy = dict(
        directive.split(" ", 1) for directive in response.headers["content-security-policy"].split("; ")
    )
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert policy["style-src"].startswith("'sha256-")  # the inline stylesheet, by hash
    assert "script-src" not in policy  # so default-src 'none': no script runs
    assert "<script" not in response.text
    assert "://" not in response.text  # nothing loaded or linked from elsewhere
