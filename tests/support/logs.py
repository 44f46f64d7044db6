"""Reading what the app logged, as a log shipper would: one JSON object per line."""

from __future__ import annotations

import json
from typing import Any

import pytest


def json_log_lines(capfd: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The JSON lines written to stderr since the last read (LOG_FORMAT=json)."""
    return [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
