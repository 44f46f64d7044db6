"""Each problem code has one status and one title, and docs/problems.md lists every code."""

from __future__ import annotations

from pathlib import Path

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
