"""A real SMTP server (aiosmtpd) on a free loopback port that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import re
import threading
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.network import free_port

TOKEN_LINK = re.compile(r"https?://\S+?\?token=([A-Za-z0-9_\-%.~]+)")


@dataclass(frozen=True)
class ReceivedAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ReceivedMail:
    to: list[str]
    subject: str
    body: str
    attachments: tuple[ReceivedAttachment, ...] = ()

    def token(self) -> str:
        match = TOKEN_LINK.search(self.body)
        assert match, f"no token link in: {self.body!r}"
        return match.group(1)


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        attachments = tuple(
            ReceivedAttachment(
                filename=str(part.get_filename()),
                content_type=part.get_content_type(),
                data=bytes(part.get_content()),
            )
            for part in message.iter_attachments()
        )
        self.sink.add(
            ReceivedMail(
                to=list(envelope.rcpt_tos),
                subject=str(message["Subject"]),
                body=text,
                attachments=attachments,
            )
        )
        return "250 OK"


class MailSink:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[ReceivedMail] = []
        self.port = free_port()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def add(self, message: ReceivedMail) -> None:
        with self._lock:
            self._messages.append(message)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def received(self) -> list[ReceivedMail]:
        """Everything received since the last `clear()`, whoever it was for."""
        with self._lock:
            return list(self._messages)

    def to(self, address: str) -> list[ReceivedMail]:
        with self._lock:
            return [message for message in self._messages if address in message.to]

    def last_to(self, address: str) -> ReceivedMail:
        messages = self.to(address)
        assert messages, f"no mail to {address}"
        return messages[-1]
