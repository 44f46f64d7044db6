"""Log pipeline: one renderer for structlog and stdlib loggers, secrets masked at any depth."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

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


@dataclass(frozen=True)
class SignInForm:
    username: str
    password: str


def sign_in(form: SignInForm) -> None:
    stored = "$".join(["", "argon2id", "v=19", "m=65536,t=3,p=1", "c2FsdHNhbHQ", "aGFzaGhhc2hoYXNo"])
    if form.password not in stored:
        raise ValueError("wrong password")


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_tracebacks_never_show_local_variables(
    capfd: pytest.CaptureFixture[str], log_format: Literal["json", "console"]
) -> None:
    """A frame's locals hold what it works on: forms with passwords, hashes, tokens."""
    configure_logging(level="INFO", log_format=log_format)
    password = "-".join(["hunter2", "in", "a", "form"])  # built at run time: not in any source line
    try:
        sign_in(SignInForm(username="a@b.test", password=password))
    except ValueError:
        get_logger("t").exception("sign_in_failed")
    output = capfd.readouterr().err
    assert "sign_in" in output  # the frames are there...
    assert "hunter2-in-a-form" not in output  # ...their variables are not
    assert "$argon2id$" not in output
