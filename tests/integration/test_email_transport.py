"""The development email transport writes each message to MAIL_DIR and to the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.clients.email import FileEmailSender, OutgoingEmail
from tests.conftest import settings_for_test

pytestmark = pytest.mark.anyio


async def test_file_transport_writes_eml(tmp_path: Path) -> None:
    sender = FileEmailSender(settings_for_test(mail_dir=str(tmp_path / "mail")))
    await sender.send(OutgoingEmail(to="dev@example.com", subject="Hello", body="Link: http://x/?token=abc"))
    [written] = list((tmp_path / "mail").glob("*.eml"))
    text = written.read_text()
    assert "Subject: Hello" in text
    assert "To: dev@example.com" in text
    assert "token=abc" in text
