"""The messages we send, and the `Mailer` services hand them to (a durable job per message)."""

from __future__ import annotations

import uuid
from typing import Protocol
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.email import EmailAttachment, OutgoingEmail
from app.core.rate_limit import RateLimiter, RateLimitPolicy
from app.models import Job


class RecipientQuota:
    """Bounds the unsolicited mail one address receives from us (verification, sign-up notice,
    password reset), whoever asks for it and from however many clients: no one can use our
    forms to mail-bomb an address. Per-client rate limits bound the asking; this, the sending.
    """

    def __init__(self, *, limiter: RateLimiter, policy: RateLimitPolicy) -> None:
        self._limiter = limiter
        self._policy = policy

    @property
    def retry_after_seconds(self) -> int:
        """When asking again is sure to be allowed: a whole window (the quota's exact reset is
        not worth a second round trip on a refusal)."""
        return self._policy.window_seconds

    async def allow(self, recipient: str) -> bool:
        """Count one message to `recipient` if the quota allows it (atomically)."""
        return await self._limiter.acquire(self._policy, recipient)


class Mailer(Protocol):
    """Queues a message in `session`'s transaction: it is sent (by a worker, with retries) only
    if that transaction commits (app/tasks/emails.py)."""

    def send_later(
        self,
        session: AsyncSession,
        message: OutgoingEmail,
        *,
        org_id: uuid.UUID | None = None,
        dedupe_key: str | None = None,
    ) -> Job: ...


def _link(base_url: str, path: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{path}?token={quote(token)}"


def verification_email(*, to: str, base_url: str, token: str) -> OutgoingEmail:
    link = _link(base_url, "/verify-email", token)
    return OutgoingEmail(
        to=to,
        subject="Confirm your email address for Invoicer",
        body=(
            "Welcome to Invoicer.\n\n"
            f"Confirm your email address by opening this link:\n{link}\n\n"
            "If you did not sign up, ignore this message."
        ),
    )


def signup_attempt_notice(*, to: str, base_url: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject="Someone tried to sign up to Invoicer with your email address",
        body=(
            "Someone (perhaps you) tried to create an Invoicer account with this email address, "
            "which already has one.\n\n"
            f"If you forgot your password, reset it at {base_url.rstrip('/')}/forgot-password.\n"
            "Otherwise you can ignore this message; your account is unchanged."
        ),
    )


def password_reset_email(*, to: str, base_url: str, token: str) -> OutgoingEmail:
    link = _link(base_url, "/reset-password", token)
    return OutgoingEmail(
        to=to,
        subject="Reset your Invoicer password",
        body=(
            f"Reset your password with this link (valid for a short time, once):\n{link}\n\n"
            "If you did not ask for this, ignore this message; your password is unchanged."
        ),
    )


def password_changed_notice(*, to: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject="Your Invoicer password was changed",
        body="Your password was just changed. If this was not you, reset it now and contact support.",
    )


def invitation_email(*, to: str, organization: str, role: str, base_url: str, token: str) -> OutgoingEmail:
    link = _link(base_url, "/invitations/accept", token)
    return OutgoingEmail(
        to=to,
        subject=f"You are invited to {organization} on Invoicer",
        body=(
            f"You are invited to join {organization} on Invoicer as {role}.\n\n"
            f"Accept with this link (valid for 7 days, once):\n{link}\n\n"
            "If you did not expect this, ignore this message."
        ),
    )


def hosted_invoice_url(base_url: str, token: str) -> str:
    """The public page of an invoice (app/api/routers/hosted_invoices.py); the token is URL-safe."""
    return f"{base_url.rstrip('/')}/i/{token}"


def invoice_email(
    *,
    to: str,
    organization: str,
    number: str,
    amount_due: str,
    due_date: str,
    link: str,
    pdf: EmailAttachment,
) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject=f"Invoice {number} from {organization}",
        body=(
            f"{organization} sent you invoice {number}.\n\n"
            f"Amount due: {amount_due}, due on {due_date}.\n\n"
            f"The invoice is attached as a PDF, and you can view it online:\n{link}\n\n"
            "Questions about this invoice? Reply to the organization that sent it."
        ),
        attachments=(pdf,),
    )


def overdue_reminder_email(
    *, to: str, organization: str, number: str, amount_due: str, due_date: str, link: str | None
) -> OutgoingEmail:
    online = f"\n\nView the invoice online:\n{link}" if link else ""
    return OutgoingEmail(
        to=to,
        subject=f"Reminder: invoice {number} from {organization} is overdue",
        body=(
            f"Invoice {number} from {organization} was due on {due_date}, and "
            f"{amount_due} is still open.{online}\n\n"
            "If you have paid it already, thank you, and please ignore this reminder."
        ),
    )
