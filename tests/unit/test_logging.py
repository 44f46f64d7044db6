"""Log pipeline: one renderer for structlog and stdlib loggers, secrets masked at any depth."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from app.core.logging import REDACTED, configure_logging, get_logger, redact


def test_redact_masks_sensitive_keys_at_any_depth() -> None:
    event: dict[str, Any] = {
        "user": {"email": "a@b.test", "password": "hunter2", "profile": {"api_key": "k"}},
        "headers": [("authorization", "Bearer abc"), ("accept", "json")],
        "items": [{"refresh_token": "r"}, {"ok": 1}],
        "Cookie": "session=1",
    }
    cleaned = redact(event)
    assert cleaned["user"]["password"] == REDACTED
    assert cleaned["user"]["profile"]["api_key"] == REDACTED
    assert cleaned["user"]["email"] == "a@b.test"
    assert cleaned["headers"][0] == ("authorization", REDACTED)
    assert cleaned["headers"][1] == ("accept", "json")
    assert cleaned["items"][0]["refresh_token"] == REDACTED
    assert cleaned["Cookie"] == REDACTED
    assert event["user"]["password"] == "hunter2"  # the original is untouched


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_structlog_and_stdlib_lines_are_redacted_json(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", log_format="json")
    get_logger("t").info("login", password="hunter2", nested={"secret": "s", "n": 1})
    logging.getLogger("uvicorn.error").info("from stdlib", extra={"token": "abc"})
    lines = _json_lines(capfd.readouterr().err)
    assert lines[0]["event"] == "login"
    assert lines[0]["password"] == REDACTED
    assert lines[0]["nested"] == {"secret": REDACTED, "n": 1}
    assert lines[1]["event"] == "from stdlib"
    assert lines[1]["token"] == REDACTED
    assert "hunter2" not in json.dumps(lines)


def test_exceptions_are_structured_fields_in_json(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", log_format="json")
    try:
        raise ValueError("boom")
    except ValueError:
        get_logger("t").exception("failed")
    [line] = _json_lines(capfd.readouterr().err)
    exception = line["exception"]
    assert isinstance(exception, list)
    assert exception[0]["exc_type"] == "ValueError"
