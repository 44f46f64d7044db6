"""The mailer services use: messages go out after the response, via FastAPI BackgroundTasks.

The `BackgroundTasks` injected here is the very object FastAPI runs after sending the
response, so a message is sent only if the request (and its transaction) succeeded.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request

from app.api.dependencies.core import services_of
from app.clients.email import EmailSender, OutgoingEmail
from app.core.logging import get_logger
from app.services.emails import Mailer, RecipientQuota

logger = get_logger(__name__)


class BackgroundMailer:
    def __init__(self, background: BackgroundTasks, sender: EmailSender) -> None:
        self._background = background
        self._sender = sender

    def send_later(self, message: OutgoingEmail) -> None:
        self._background.add_task(self._send, message)

    async def _send(self, message: OutgoingEmail) -> None:
        try:
            await self._sender.send(message)
        except Exception:
            # The response is already sent: log and move on (the durable queue comes later).
            logger.exception("email_send_failed", subject=message.subject)


async def get_mailer(background: BackgroundTasks, request: Request) -> Mailer:
    return BackgroundMailer(background, services_of(request).email_sender)


async def get_recipient_quota(request: Request) -> RecipientQuota:
    return services_of(request).recipient_quota


MailerDep = Annotated[Mailer, Depends(get_mailer)]
RecipientQuotaDep = Annotated[RecipientQuota, Depends(get_recipient_quota)]
