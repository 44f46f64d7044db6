"""W3C traceparent and request-id acceptance rules."""

from __future__ import annotations

import pytest

from app.core.logging import is_acceptable_request_id, parse_traceparent

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_valid_traceparent_is_parsed() -> None:
    parsed = parse_traceparent(VALID)
    assert parsed is not None
    assert parsed.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert parsed.parent_id == "00f067aa0ba902b7"
    assert parsed.sampled is True


@pytest.mark.parametrize(
    "header",
    [
        VALID.upper(),  # uppercase hex
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # suffix on v00
        "garbage",
        "",
    ],
)
def test_invalid_traceparent_is_ignored(header: str) -> None:
    assert parse_traceparent(header) is None


def test_future_version_with_suffix_is_accepted() -> None:
    assert parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more") is not None


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("a" * 20, True),
        ("A-z_0+9/=" * 3, True),
        ("a" * 200, True),
        ("a" * 19, False),
        ("a" * 201, False),
        ("abc\r\nSet-Cookie: x=1abcdefgh", False),
        ("spaces are not allowed here", False),
    ],
)
def test_request_id_rules(value: str, accepted: bool) -> None:
    assert is_acceptable_request_id(value) is accepted
