"""One catalogue of problems (app/core/errors/): each code once, everywhere, and in docs/problems.md.

docs/problems.md is rendered from the catalogue; when the catalogue changes, regenerate it:
`UPDATE_DOCS=1 .venv/bin/pytest tests/unit/test_error_catalogue.py`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from app.api.problems import http_status_problem
from app.core import errors

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "problems.md"

INTRO = """# Problem types

Every error response is `application/problem+json` (RFC 9457). `type` is
`urn:invoicer:problem:<code>`; `code` is the stable machine code to branch on; `title` is
constant per type; `detail` describes the occurrence; `request_id` (also in `X-Request-ID`)
identifies the request in our logs; `instance` is `urn:request:<request id>`.

Sign-in and token errors also carry `error` and `error_description` (RFC 6749 §5.2), so OAuth2
client libraries read them: at `POST /api/v1/auth/token`, every refusal below 500 has an
`error` (`temporarily_unavailable` for a 429). Each operation in the OpenAPI document lists the
problems it can return.

This file is generated from `app/core/errors/` by `tests/unit/test_error_catalogue.py`
(`UPDATE_DOCS=1` rewrites it).
"""


def all_error_classes() -> list[type[errors.AppError]]:
    found: list[type[errors.AppError]] = []
    pending: list[type[errors.AppError]] = [errors.AppError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def render_catalogue() -> str:
    rows = [
        f"| `{cls.code}` | {'any' if cls is errors.HttpError else cls.status} | {cls.title} | {cls.when} |"
        for cls in errors.catalogue()
    ]
    return "\n".join([INTRO, "| code | status | title | when |", "|---|---|---|---|", *rows, ""])


def test_a_code_means_one_status_and_one_title() -> None:
    seen: dict[str, tuple[int, str, str]] = {}
    for cls in all_error_classes():
        previous = seen.setdefault(cls.code, (cls.status, cls.title, cls.when))
        assert previous == (cls.status, cls.title, cls.when), cls
    assert len(errors.catalogue()) == len(seen)


def test_every_code_says_when_it_happens() -> None:
    for cls in errors.catalogue():
        assert cls.when, cls
        assert cls.title, cls


def test_docs_list_the_catalogue() -> None:
    rendered = render_catalogue()
    if os.environ.get("UPDATE_DOCS") == "1":
        DOCS.write_text(rendered)
    assert DOCS.read_text() == rendered, (
        "docs/problems.md differs from the catalogue: UPDATE_DOCS=1 pytest tests/unit/test_error_catalogue.py"
    )


def problem_body(status: int) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(bytes(http_status_problem(status).body))
    return body


FRAMEWORK_STATUSES = [400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 428, 429, 500, 503, 504]


@pytest.mark.parametrize("status", FRAMEWORK_STATUSES)
def test_framework_statuses_map_to_catalogued_problems(status: int) -> None:
    """A routing 404 reads like a NotFoundError: one title per problem type (RFC 9457 §3.1.3)."""
    [cls] = [cls for cls in errors.catalogue() if cls.code == problem_body(status)["code"]]
    assert (problem_body(status)["status"], problem_body(status)["title"]) == (status, cls.title)
    assert cls.status == status


def test_an_uncatalogued_status_keeps_its_status_and_a_constant_title() -> None:
    body = problem_body(416)
    assert (body["status"], body["code"], body["title"]) == (416, "http_error", errors.HttpError.title)
    assert body["detail"] == "Requested Range Not Satisfiable"


def test_codes_are_written_only_in_the_catalogue() -> None:
    """Middleware and handlers render catalogue classes: no problem is given a code elsewhere.

    (Log events may share a code's name: `logger.warning("request_timeout")` is not a problem.)
    """
    codes = "|".join(sorted(cls.code for cls in errors.catalogue()))
    pattern = re.compile(rf"""\bcode["']?\s*[=:]\s*["']({codes})["']""")
    scattered = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in sorted((ROOT / "app").rglob("*.py"))
        if path.parent != ROOT / "app" / "core" / "errors"
        for match in pattern.finditer(path.read_text())
    ]
    assert scattered == []
    assert pattern.search('code="not_found"')
    assert pattern.search('"code": "rate_limited"')
