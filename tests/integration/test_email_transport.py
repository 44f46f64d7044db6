"""Email transports: files in development, SMTP otherwise; each refuses all but one recipient."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.clients.email import FileEmailSender, InvalidRecipientError, OutgoingEmail, SmtpEmailSender
from tests.conftest import settings_for_test, smtp_settings
from tests.support.smtp import MailSink

pytestmark = pytest.mark.anyio


async def test_file_transport_writes_eml(tmp_path: Path) -> None:
    sender = FileEmailSender(settings_for_test(mail_dir=str(tmp_path / "mail")))
    await sender.send(OutgoingEmail(to="dev@example.com", subject="Hello", body="Link: http://x/?token=abc"))
    [written] = list((tmp_path / "mail").glob("*.eml"))
    text = written.read_text()
    assert "Subject: Hello" in text
    assert "To: dev@example.com" in text
    assert "token=abc" in text


# Each one, with the recipient taken from the headers, is several envelope recipients or a
# display name hiding another address.
HOSTILE_RECIPIENTS = [
    "attacker@evil.example,victim@example.com",
    "attacker@evil.example; victim@example.com",
    "Victim <attacker@evil.example>",
    "victim@example.com\r\nBcc: attacker@evil.example",
    "victim@example.com\nattacker@evil.example",
    "attacker\uff20evil.example\uff0cvictim@example.com",  # the same list, in fullwidth forms
    "Victim@Example.com",  # valid, but not the normalised form every stored address has
    " victim@example.com",
    '"victim attacker"@example.com',
    "victim@[192.0.2.1]",
    "",
]


async def test_smtp_envelope_has_exactly_the_one_recipient(mail: MailSink) -> None:
    sender = SmtpEmailSender(settings_for_test(**smtp_settings(mail)))
    await sender.send(OutgoingEmail(to="dev@example.com", subject="Hello", body="Hi"))
    [received] = mail.received()
    assert received.to == ["dev@example.com"]  # the SMTP envelope's RCPT TO, as the server saw it


@pytest.mark.parametrize("to", HOSTILE_RECIPIENTS)
async def test_smtp_refuses_anything_but_one_normalised_address(mail: MailSink, to: str) -> None:
    sender = SmtpEmailSender(settings_for_test(**smtp_settings(mail)))
    with pytest.raises(InvalidRecipientError):
        await sender.send(OutgoingEmail(to=to, subject="Hello", body="Hi"))
    # The sink is a real SMTP server: had anything reached it, it would be listed here.
    assert mail.received() == []


@pytest.mark.parametrize("to", HOSTILE_RECIPIENTS)
async def test_file_transport_refuses_them_too(tmp_path: Path, to: str) -> None:
    sender = FileEmailSender(settings_for_test(mail_dir=str(tmp_path / "mail")))
    with pytest.raises(InvalidRecipientError):
        await sender.send(OutgoingEmail(to=to, subject="Hello", body="Hi"))
    assert not (tmp_path / "mail").exists()
