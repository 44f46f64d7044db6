"""The mailer services use: each message is a durable job written in the request's own
transaction (app/tasks/emails.py), sent by a worker once that transaction has committed."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.api.dependencies.core import services_of
from app.services.emails import Mailer, RecipientQuota


async def get_mailer(request: Request) -> Mailer:
    return services_of(request).mailer


async def get_recipient_quota(request: Request) -> RecipientQuota:
    return services_of(request).recipient_quota


MailerDep = Annotated[Mailer, Depends(get_mailer)]
RecipientQuotaDep = Annotated[RecipientQuota, Depends(get_recipient_quota)]
