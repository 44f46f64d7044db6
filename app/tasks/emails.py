"""Emails that must not be lost: a `jobs` row written in the transaction that wants the mail,
sent by a worker with retries (EMAIL_RETRY_SCHEDULE_SECONDS), dead after the last.

`DurableMailer` is the `Mailer` services use (app/services/emails.py): verification,
password reset, invitations, invoices. The row commits with the change that asked for the
mail, or not at all, so there is never a mail about something that did not happen nor a
change whose mail was forgotten.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.email import EmailAttachment, InvalidRecipientError, OutgoingEmail
from app.core.config import Settings
from app.core.security.sealing import PayloadSealer, UnsealableError
from app.models import Job, JobKind
from app.models.base import new_id, utcnow
from app.services.leases import Outcome, RetryPolicy
from app.tasks.context import WorkerContext
from app.tasks.leased import run_leased
from app.tasks.names import SEND_EMAIL
from app.tasks.queue import JobQueue
from app.tasks.registry import work_task


def email_retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(schedule=tuple(settings.email_retry_schedule_seconds))


def encode_email(message: OutgoingEmail) -> bytes:
    attachments = [
        {"filename": a.filename, "content_type": a.content_type, "data": base64.b64encode(a.data).decode()}
        for a in message.attachments
    ]
    document = {
        "to": message.to,
        "subject": message.subject,
        "body": message.body,
        "attachments": attachments,
    }
    return orjson.dumps(document)


def decode_email(payload: bytes) -> OutgoingEmail:
    document: dict[str, Any] = orjson.loads(payload)
    attachments = tuple(
        EmailAttachment(
            filename=a["filename"], content_type=a["content_type"], data=base64.b64decode(a["data"])
        )
        for a in document["attachments"]
    )
    return OutgoingEmail(
        to=document["to"], subject=document["subject"], body=document["body"], attachments=attachments
    )


class DurableMailer:
    """Queues mail in the caller's transaction; woken once it commits."""

    def __init__(self, *, queue: JobQueue, sealer: PayloadSealer, settings: Settings) -> None:
        self._queue = queue
        self._sealer = sealer
        self._max_attempts = email_retry_policy(settings).max_attempts

    def send_later(
        self,
        session: AsyncSession,
        message: OutgoingEmail,
        *,
        org_id: uuid.UUID | None = None,
        dedupe_key: str | None = None,
    ) -> Job:
        job_id = new_id()
        job = Job(
            id=job_id,
            kind=JobKind.EMAIL,
            org_id=org_id,
            payload=self._sealer.seal(encode_email(message), row_id=job_id),
            dedupe_key=dedupe_key,
            max_attempts=self._max_attempts,
            next_attempt_at=utcnow(),
            enqueued_at=utcnow(),
        )
        session.add(job)
        self._queue.wake_after_commit(session, SEND_EMAIL, job_id)
        return job


@work_task(SEND_EMAIL)
async def send_email(context: WorkerContext, job_id: uuid.UUID) -> None:
    services = context.services

    async def perform(job: Job) -> Outcome:
        try:
            message = decode_email(services.payload_sealer.open(job.payload, row_id=job.id))
        except UnsealableError:
            return Outcome.failure("the payload does not open (SECRET_KEY rotated?)", give_up=True)
        try:
            await services.email_sender.send(message)
        except InvalidRecipientError as error:
            return Outcome.failure(str(error), give_up=True)
        except Exception as error:  # SMTP down, refused, timed out: worth another attempt
            return Outcome.failure(f"{type(error).__name__}: {error}")
        return Outcome.success()

    await run_leased(
        context, Job, job_id, task=SEND_EMAIL, policy=email_retry_policy(services.settings), perform=perform
    )
