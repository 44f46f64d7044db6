"""The rest of 4xx: missing objects, conflicts, preconditions, validation, limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.core.errors.base import AppError


class NotFoundError(AppError):
    status = 404
    code = "not_found"
    title = "Not found"
    when = "no such route or resource (also for other tenants' resources)"


class MethodNotAllowedError(AppError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"
    when = "the route exists, not with this method (`Allow` lists the methods)"


class RequestHeaderTimeoutError(AppError):
    """The HTTP server's answer to headers that do not arrive in time (app/server.py)."""

    status = 408
    code = "request_header_timeout"
    title = "Request header timeout"
    when = (
        "the request line and headers did not arrive within `REQUEST_HEADER_TIMEOUT_SECONDS`; the "
        "connection is closed (a connection that sent nothing is closed without an answer)"
    )


class ConflictError(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"
    when = "the request conflicts with the resource's current state"


class PreconditionFailedError(AppError):
    status = 412
    code = "precondition_failed"
    title = "Precondition failed"
    when = "`If-Match` does not match the current `ETag`"
    sends_headers = ("ETag",)


class PayloadTooLargeError(AppError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"
    when = "the body exceeds `MAX_REQUEST_BODY_BYTES`"


class UnsupportedMediaTypeError(AppError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"
    when = "the body's content type is not accepted"


class AttachmentTooLargeError(PayloadTooLargeError):
    code = "attachment_too_large"
    title = "Attachment too large"
    when = (
        "the uploaded file exceeds `ATTACHMENT_MAX_BYTES` (counted as it arrives, whatever "
        "`Content-Length` said)"
    )


class StorageQuotaExceededError(PayloadTooLargeError):
    code = "storage_quota_exceeded"
    title = "Storage quota exceeded"
    when = "the file would take the organization's attachments past `ATTACHMENT_ORG_QUOTA_BYTES`"


class AttachmentTypeRefusedError(UnsupportedMediaTypeError):
    code = "attachment_type_refused"
    title = "Attachment type refused"
    when = (
        "the file's bytes are not a PDF, PNG or JPEG, or the part's declared `Content-Type` names "
        "another type than its bytes"
    )


class RangeNotSatisfiableError(AppError):
    status = 416
    code = "range_not_satisfiable"
    title = "Range not satisfiable"
    when = "a `Range` that starts past the end of the file (`Content-Range: bytes */<size>` gives the size)"
    sends_headers = ("Content-Range",)

    def __init__(self, size: int) -> None:
        super().__init__(
            f"The file has {size} bytes; no requested range overlaps them.",
            headers={"Content-Range": f"bytes */{size}"},
        )


class ValidationFailedError(AppError):
    status = 422
    code = "validation_error"
    title = "Request validation failed"
    when = (
        "the request does not match the schema or a configured rule (e.g. the password policy); "
        "`errors` lists `{loc, message, type}` per bad field"
    )

    def __init__(self, errors: Sequence[Mapping[str, Any]], detail: str | None = None) -> None:
        count = len(errors)
        super().__init__(
            detail or f"{count} invalid field{'s' if count != 1 else ''}; see errors.",
            extensions={"errors": list(errors)},
        )


class AlreadyMemberError(ConflictError):
    code = "already_member"
    title = "Already a member"
    when = "inviting, or accepting for, an account that already belongs to the organization"


class AlreadyRegisteredError(ConflictError):
    code = "already_registered"
    title = "Account exists"
    when = "signing up through an invitation for an address that has an account: sign in and accept"


class LastOwnerError(ConflictError):
    code = "last_owner"
    title = "An organization needs an owner"
    when = "the last owner tried to leave or step down: transfer ownership first"


class OrganizationLimitError(ConflictError):
    code = "organization_limit"
    title = "Too many organizations"
    when = "the account already belongs to `MAX_ORGANIZATIONS_PER_USER` organizations"


class ApiKeyLimitError(ConflictError):
    code = "api_key_limit"
    title = "Too many API keys"
    when = "the organization already has `MAX_API_KEYS_PER_ORG` live API keys: revoke one first"


class WebhookEndpointLimitError(ConflictError):
    code = "webhook_endpoint_limit"
    title = "Too many webhook endpoints"
    when = "the organization already has `WEBHOOK_MAX_ENDPOINTS_PER_ORG` webhook endpoints: delete one first"


class WebhookEndpointDisabledError(ConflictError):
    code = "webhook_endpoint_disabled"
    title = "Webhook endpoint disabled"
    when = "pinging or replaying to a disabled endpoint: enable it first (`PATCH` with `enabled: true`)"


class WebhookDeliveryInProgressError(ConflictError):
    code = "webhook_delivery_in_progress"
    title = "Delivery in progress"
    when = "replaying a delivery while an attempt of it is running: wait for its outcome"


class CustomerHasInvoicesError(ConflictError):
    code = "customer_has_invoices"
    title = "Customer has invoices"
    when = "deleting a customer that invoices refer to: an invoice keeps its customer"


class InvoiceStateError(ConflictError):
    """A transition the invoice's state does not allow; the problem's `invoice_status` says
    which state it is in."""

    def __init__(self, detail: str, *, invoice_status: str) -> None:
        super().__init__(
            f"{detail} This invoice is {invoice_status}.", extensions={"invoice_status": invoice_status}
        )


class InvoiceNotDraftError(InvoiceStateError):
    code = "invoice_not_draft"
    title = "Invoice is not a draft"
    when = "changing, deleting or finalizing an invoice no longer a draft (`invoice_status` says which)"


class InvoiceNotOpenError(InvoiceStateError):
    code = "invoice_not_open"
    title = "Invoice is not open"
    when = "recording a payment against a draft, paid or void invoice (`invoice_status` says which)"


class InvoiceNotVoidableError(InvoiceStateError):
    code = "invoice_not_voidable"
    title = "Invoice cannot be voided"
    when = "voiding an invoice that is paid or already void (`invoice_status` says which)"


class InvoiceNotFinalizedError(InvoiceStateError):
    code = "invoice_not_finalized"
    title = "Invoice is not finalized"
    when = (
        "asking for the PDF of a draft, or sending one: only a numbered (open, paid or void) "
        "invoice has a PDF, and only a numbered invoice is sent"
    )


class InvoiceNotSendableError(InvoiceStateError):
    code = "invoice_not_sendable"
    title = "Invoice cannot be sent"
    when = "sending a void invoice: only an open or paid invoice is emailed to its customer"


class CustomerEmailMissingError(ConflictError):
    code = "customer_email_missing"
    title = "Customer has no email address"
    when = "sending an invoice whose customer has no `email`: add one to the customer first"


class IdempotencyRequestInFlightError(ConflictError):
    code = "idempotency_request_in_flight"
    title = "Request with this Idempotency-Key in progress"
    when = (
        "a request with the same `Idempotency-Key` is still being processed: retry once it has "
        "finished to get its response"
    )

    def __init__(self) -> None:
        super().__init__("A request with this Idempotency-Key is still in progress; retry shortly.")


class InvalidInputError(ValidationFailedError):
    """Input that passed the schema but not a configured rule; shaped like validation errors."""

    def __init__(self, loc: list[str | int], message: str, issue_type: str) -> None:
        super().__init__([{"loc": loc, "message": message, "type": issue_type}], f"{loc[-1]} {message}")


class UnprocessableError(AppError):
    status = 422
    code = "unprocessable"
    title = "Unprocessable request"
    when = "well-formed, but a business rule refuses it"


class IdempotencyKeyReusedError(UnprocessableError):
    code = "idempotency_key_reused"
    title = "Idempotency-Key reused"
    when = (
        "an `Idempotency-Key` already used (while it is kept) for another request: another "
        "body, path or method; use a new key for a new operation"
    )

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was used for a different request; use a new key.")


class PreconditionRequiredError(AppError):
    status = 428
    code = "precondition_required"
    title = "Precondition required"
    when = "`If-Match` is required for this write"


class RateLimitedError(AppError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"
    when = "over quota, or too many failed sign-ins; see `Retry-After` and the `RateLimit` fields"
    sends_headers = ("Retry-After", "RateLimit", "RateLimit-Policy")


class RequestHeaderFieldsTooLargeError(AppError):
    """The HTTP server's answer to a request line and headers over budget (app/server.py)."""

    status = 431
    code = "request_header_too_large"
    title = "Request header fields too large"
    when = (
        "the request line and headers exceed `MAX_REQUEST_HEADER_BYTES`, or `MAX_REQUEST_HEADER_FIELDS` "
        "fields; the connection is closed"
    )
