"""SQLAlchemy ORM models. Importing this package registers every table on `Base.metadata`."""

from app.models.api_key import ApiKey
from app.models.attachment import Attachment, AttachmentKind
from app.models.audit import AuditLogEntry
from app.models.auth_session import AuthSession, RefreshToken
from app.models.base import Base
from app.models.customer import Customer
from app.models.event import Event
from app.models.feature_flag import FeatureFlag
from app.models.idempotency_key import IdempotencyKey
from app.models.invitation import Invitation
from app.models.invoice import Invoice, InvoiceLineItem, InvoiceNumberCounter, InvoiceStatus
from app.models.invoice_link import InvoiceLink
from app.models.job import Job, JobKind, LeasedWork, PeriodicRun, WorkStatus
from app.models.one_time_token import OneTimeToken, TokenPurpose
from app.models.organization import Membership, Organization
from app.models.payment import Payment, PaymentMethod
from app.models.user import User
from app.models.webhook import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint

__all__ = [
    "ApiKey",
    "Attachment",
    "AttachmentKind",
    "AuditLogEntry",
    "AuthSession",
    "Base",
    "Customer",
    "Event",
    "FeatureFlag",
    "IdempotencyKey",
    "Invitation",
    "Invoice",
    "InvoiceLineItem",
    "InvoiceLink",
    "InvoiceNumberCounter",
    "InvoiceStatus",
    "Job",
    "JobKind",
    "LeasedWork",
    "Membership",
    "OneTimeToken",
    "Organization",
    "Payment",
    "PaymentMethod",
    "PeriodicRun",
    "RefreshToken",
    "TokenPurpose",
    "User",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "WebhookEndpoint",
    "WorkStatus",
]
