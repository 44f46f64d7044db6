"""Outbound email: SMTP (aiosmtplib) in production, a folder of .eml files in development."""

from __future__ import annotations

import email.message
import email.utils
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiosmtplib
import anyio

from app.core.config import Settings
from app.core.email_address import InvalidEmailAddressError, canonical_email
from app.core.logging import get_logger

logger = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class EmailAttachment:
    filename: str
    content_type: str  # "application/pdf"
    data: bytes


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: str
    subject: str
    body: str
    attachments: tuple[EmailAttachment, ...] = ()


class EmailSender(Protocol):
    async def send(self, message: OutgoingEmail) -> None: ...


class InvalidRecipientError(ValueError):
    """Not sent: the recipient is not exactly one valid address in its normalised form."""


def _recipient(to: str) -> str:
    """The one envelope recipient, or raise. Never trust `to` to be a single address.

    Headers are not where recipients come from: a `To` of `a,b@example.com` or
    `x <victim@example.com>` would otherwise fan out into several SMTP envelope recipients.
    """
    if "\r" in to or "\n" in to:
        raise InvalidRecipientError("the recipient contains a line break")
    try:
        address = canonical_email(to)
    except InvalidEmailAddressError as error:
        raise InvalidRecipientError(f"the recipient is not one valid address: {error}") from None
    if address != to:
        # Callers pass stored addresses, which are normalised; anything else was never validated.
        raise InvalidRecipientError("the recipient is not in its normalised form")
    return address


def _mime(message: OutgoingEmail, sender: str) -> tuple[email.message.EmailMessage, str]:
    """The message and its single envelope recipient, checked to agree with the `To` header."""
    recipient = _recipient(message.to)
    mime = email.message.EmailMessage()
    mime["From"] = sender
    mime["To"] = recipient
    parsed = mime["To"].addresses
    if len(parsed) != 1 or parsed[0].display_name or parsed[0].addr_spec != recipient:
        raise InvalidRecipientError("the To header does not parse back to the one recipient")
    mime["Subject"] = message.subject
    mime["Date"] = email.utils.formatdate(usegmt=True)
    mime["Message-ID"] = email.utils.make_msgid(domain="invoicer.localhost")
    mime.set_content(message.body)
    for attachment in message.attachments:
        maintype, subtype = attachment.content_type.split("/", 1)
        mime.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return mime, recipient


class SmtpEmailSender:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, message: OutgoingEmail) -> None:
        settings = self._settings
        mime, recipient = _mime(message, settings.email_from)
        await aiosmtplib.send(
            mime,
            recipients=[recipient],  # explicit: never derived from the headers
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            start_tls=settings.smtp_starttls,
            use_tls=settings.smtp_use_tls,
            timeout=settings.smtp_timeout_seconds,
        )
        logger.info("email_sent", to_domain=recipient.rsplit("@", 1)[-1], subject=message.subject)


class FileEmailSender:
    """Development transport: each message becomes `MAIL_DIR/<time>-<to>.eml` and a log line."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._dir = Path(settings.mail_dir)

    async def send(self, message: OutgoingEmail) -> None:
        mime, recipient = _mime(message, self._settings.email_from)
        safe_to = re.sub(r"[^A-Za-z0-9@._-]", "_", recipient)
        stamp = email.utils.parsedate_to_datetime(str(mime["Date"])).strftime("%Y%m%dT%H%M%S")
        path = anyio.Path(self._dir / f"{stamp}-{safe_to}-{str(mime['Message-ID']).strip('<>')}.eml")
        await anyio.Path(self._dir).mkdir(parents=True, exist_ok=True)
        await path.write_bytes(bytes(mime))
        # Dev only (refused in staging/prod): the body, links included, is meant to be read here.
        logger.info("email_written", to=recipient, subject=message.subject, path=str(path), body=message.body)


def create_email_sender(settings: Settings) -> EmailSender:
    if settings.email_transport == "smtp":
        return SmtpEmailSender(settings)
    return FileEmailSender(settings)
