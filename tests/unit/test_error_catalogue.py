"""Each problem code has one status and one title, and docs/problems.md lists every code."""

from __future__ import annotations

import json
from pathlib import Path

from app.api.problems import http_status_problem
from app.core import errors

DOCS = Path(__file__).resolve().parents[2] / "docs" / "problems.md"


def all_error_classes() -> list[type[errors.AppError]]:
    found: list[type[errors.AppError]] = []
    pending: list[type[errors.AppError]] = [errors.AppError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_a_code_means_one_status_and_one_title() -> None:
    seen: dict[str, tuple[int, str]] = {}
    for cls in all_error_classes():
        previous = seen.setdefault(cls.code, (cls.status, cls.title))
        assert previous == (cls.status, cls.title), cls


def test_every_code_is_documented() -> None:
    documented = DOCS.read_text()
    missing = sorted({cls.code for cls in all_error_classes()} - set(documented.split("`")))
    assert missing == []


def problem_body(status: int) -> dict[str, str]:
    body: dict[str, str] = json.loads(bytes(http_status_problem(status).body))
    return body


def test_framework_problems_use_the_titles_of_our_own_codes() -> None:
    """A routing 404 reads like a NotFoundError: one title per problem type (RFC 9457 §3.1.3)."""
    titles = {cls.code: cls.title for cls in all_error_classes()}
    for status in (400, 401, 403, 404, 409, 422, 429, 500, 503):
        body = problem_body(status)
        if body["code"] in titles:
            assert body["title"] == titles[body["code"]], status
    assert problem_body(404)["title"] == errors.NotFoundError.title
    assert problem_body(405)["title"] == "Method Not Allowed"  # no error of ours has this code
