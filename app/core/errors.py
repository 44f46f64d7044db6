"""The error catalogue: every problem this service answers with is a class here, defined once.

Services raise these; the API layer, its middleware and the HTTP server render them (RFC 9457).
Each class that names a `code` fixes its HTTP `status`, a constant `title`, and `when` (what a
client reads in docs/problems.md, which tests/unit/test_error_catalogue.py renders from this
module); the `detail` is per occurrence and must help the client without revealing internals.
Subclasses that keep their parent's `code` only preset a detail or headers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

PROBLEM_TYPE_PREFIX = "urn:invoicer:problem:"


def problem_type_for(code: str) -> str:
    """A stable absolute URI per problem kind, listed in docs/problems.md."""
    return f"{PROBLEM_TYPE_PREFIX}{code}"


class AppError(Exception):
    # A plain class attribute, not a ClassVar: `HttpError` sets it per occurrence.
    status: int = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal server error"
    when: ClassVar[str] = "an unexpected error; nothing about it leaves the server — quote the `request_id`"
    # Response headers every occurrence carries, for the OpenAPI document (app/api/openapi.py).
    sends_headers: ClassVar[tuple[str, ...]] = ()
    # The RFC 6749 §5.2 `error` this problem carries as a member, for OAuth2 clients.
    oauth_error: ClassVar[str | None] = None
    # Some refusals are themselves state changes that must persist (a reused refresh token
    # revokes its family): the request's unit of work commits before the error is rendered.
    commit_transaction: ClassVar[bool] = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})
        super().__init__(self.detail)


# --- 400 -----------------------------------------------------------------------------------


class BadRequestError(AppError):
    status = 400
    code = "bad_request"
    title = "Bad request"
    when = "malformed request outside the body schema (a bad `Content-Length`, a form that does not parse)"


class InvalidHostError(BadRequestError):
    code = "invalid_host"
    title = "Invalid host"
    when = "the `Host` header is not one of `TRUSTED_HOSTS`"

    def __init__(self) -> None:
        super().__init__("Unknown Host header.")


class CorsRefusedError(BadRequestError):
    code = "cors_refused"
    title = "CORS preflight refused"
    when = "a CORS preflight from an origin, method or header that is not allowed"


class InvalidCursorError(BadRequestError):
    code = "invalid_cursor"
    title = "Invalid cursor"
    when = "a `cursor` that was altered, or made for another organization, list or filter"

    def __init__(self) -> None:
        super().__init__("The cursor is invalid for this list; start again without one.")


class IdempotencyKeyRequiredError(BadRequestError):
    code = "idempotency_key_required"
    title = "Idempotency-Key required"
    when = "an operation that requires an `Idempotency-Key` header was sent without one"

    def __init__(self) -> None:
        super().__init__("Send an Idempotency-Key header (a unique value per operation you intend).")


class InvalidIdempotencyKeyError(BadRequestError):
    code = "invalid_idempotency_key"
    title = "Invalid Idempotency-Key"
    when = "an `Idempotency-Key` that is not 1-255 printable ASCII characters (no space at either end)"

    def __init__(self) -> None:
        super().__init__("An Idempotency-Key is 1-255 printable ASCII characters, no space at either end.")


class InvalidInvitationError(BadRequestError):
    code = "invalid_invitation"
    title = "Invalid invitation"
    when = "an invitation token that names no invitation (or one of a deleted organization)"

    def __init__(self) -> None:
        super().__init__("This invitation link is not valid.")


class InvitationExpiredError(BadRequestError):
    code = "invitation_expired"
    title = "Invitation expired"
    when = "an invitation past its 7 days: ask for a new one"


class InvitationRevokedError(BadRequestError):
    code = "invitation_revoked"
    title = "Invitation revoked"
    when = "an invitation the organization withdrew (or replaced with a newer one)"


class InvitationUsedError(BadRequestError):
    code = "invitation_used"
    title = "Invitation already used"
    when = "an invitation that was already accepted: each is good once"


class InvalidOneTimeTokenError(BadRequestError):
    code = "invalid_one_time_token"
    title = "Invalid or expired token"
    when = "an emailed link (verification, password reset) is invalid, expired or used"

    def __init__(self) -> None:
        super().__init__("The link is invalid, expired or already used.")


class InvalidTokenRequestError(BadRequestError):
    code = "invalid_token_request"
    title = "Invalid token request"
    when = (
        "the token endpoint's form is missing a field or has a malformed one (`error`: "
        "`invalid_request`); `errors` lists `{loc, message, type}` per bad field"
    )
    oauth_error = "invalid_request"

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        count = len(errors)
        super().__init__(
            f"{count} invalid field{'s' if count != 1 else ''}; see errors.",
            extensions={"errors": list(errors)},
        )


class UnsupportedGrantTypeError(BadRequestError):
    code = "unsupported_grant_type"
    title = "Unsupported grant type"
    when = "the token endpoint got a `grant_type` other than `password` (`error`: `unsupported_grant_type`)"
    oauth_error = "unsupported_grant_type"

    def __init__(self) -> None:
        super().__init__("Only the password grant is supported here.")


class InvalidCredentialsError(BadRequestError):
    """Wrong password, unknown account and disabled account: one answer for all three.

    400 rather than 401: RFC 6749 §5.2 answers a failed grant with 400 `invalid_grant`, and a
    401 would have to carry a `WWW-Authenticate` challenge (RFC 9110 §15.5.2) for credentials
    this request does not use.
    """

    code = "invalid_credentials"
    title = "Invalid credentials"
    when = (
        "sign-in refused: wrong password, unknown or disabled account, one answer for all "
        "(`error`: `invalid_grant`)"
    )
    oauth_error = "invalid_grant"

    def __init__(self) -> None:
        super().__init__("The email or password is incorrect.")


class EmailNotVerifiedError(BadRequestError):
    code = "email_not_verified"
    title = "Email address not verified"
    when = "right password, but the address is not verified yet (`error`: `invalid_grant`)"
    oauth_error = "invalid_grant"

    def __init__(self) -> None:
        super().__init__("Verify your email address first: follow the link we sent you.")


class InvalidRefreshTokenError(BadRequestError):
    code = "invalid_grant"
    title = "Invalid refresh token"
    when = (
        "the refresh token is invalid, expired, revoked, or was already used, which ends its "
        "session (`error`: `invalid_grant`)"
    )
    oauth_error = "invalid_grant"

    def __init__(self, detail: str = "The refresh token is invalid, expired or revoked.") -> None:
        super().__init__(detail)


class RefreshTokenReusedError(InvalidRefreshTokenError):
    commit_transaction = True

    def __init__(self) -> None:
        super().__init__("The refresh token was already used; the session has been ended.")


# --- 401 and 403 ---------------------------------------------------------------------------


class AuthenticationError(AppError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"
    when = "no credentials were sent (`WWW-Authenticate: Bearer`)"
    sends_headers = ("WWW-Authenticate",)


class NotAuthenticatedError(AuthenticationError):
    def __init__(self) -> None:
        super().__init__("Send a bearer token or sign in.", headers={"WWW-Authenticate": "Bearer"})


class InvalidAccessTokenError(AuthenticationError):
    code = "invalid_token"
    title = "Invalid access token"
    when = (
        "the access token or browser session is invalid, expired or revoked "
        '(`WWW-Authenticate: Bearer error="invalid_token"`)'
    )

    def __init__(self, detail: str = "The access token is invalid, expired or revoked.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class PermissionDeniedError(AppError):
    status = 403
    code = "permission_denied"
    title = "Permission denied"
    when = "authenticated, may see the resource, may not do this"


class CsrfError(PermissionDeniedError):
    code = "csrf_failed"
    title = "CSRF check failed"
    when = "a cookie-authenticated unsafe request without the session's `X-CSRF-Token`"

    def __init__(self) -> None:
        super().__init__("Send the session's CSRF token in the X-CSRF-Token header.")


class ApiKeyNotAllowedError(PermissionDeniedError):
    code = "api_key_not_allowed"
    title = "Not for API keys"
    when = "an API key on a route about a person's own account (keys act only under `/orgs/{org_id}/`)"


class InvitationWrongAccountError(PermissionDeniedError):
    code = "invitation_wrong_account"
    title = "Invitation for another address"
    when = "accepting an invitation sent to another email address than the signed-in account's"


class NotInvoiceCreatorError(PermissionDeniedError):
    code = "not_invoice_creator"
    title = "Not your draft"
    when = "changing or deleting a draft someone else created, holding only `invoices:write_own`"


class NotAttachmentUploaderError(PermissionDeniedError):
    code = "not_attachment_uploader"
    title = "Not your attachment"
    when = "deleting an attachment someone else uploaded, without being an administrator or owner"


class FeatureDisabledError(PermissionDeniedError):
    code = "feature_disabled"
    title = "Feature disabled"
    when = "the feature this operation belongs to is off for the organization (its feature flags)"


class OwnerProtectedError(PermissionDeniedError):
    code = "owner_protected"
    title = "Owners are protected"
    when = "an administrator tried to change or remove an owner, or to make someone an owner"


# --- the rest of 4xx -----------------------------------------------------------------------


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
    when = "asking for the PDF of a draft: only a numbered (open, paid or void) invoice has one"


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


# --- 5xx -----------------------------------------------------------------------------------


class ServiceUnavailableError(AppError):
    """A service the request needs (database, Redis) is unreachable: transient, retry later."""

    status = 503
    code = "service_unavailable"
    title = "Service unavailable"
    when = (
        "a service the request needs (database, Redis) is unreachable, or the pool had no free "
        "connection in time, or the worker already holds `MAX_CONNECTIONS_PER_WORKER` connections "
        "(or `LIMIT_CONCURRENCY` requests); retry after `Retry-After`"
    )
    sends_headers = ("Retry-After",)


class RequestTimeoutError(AppError):
    status = 504
    code = "request_timeout"
    title = "Request timed out"
    when = "the request did not complete within `REQUEST_TIMEOUT_SECONDS`"


class HttpError(AppError):
    """A status the framework raised that no class above names (e.g. 416 from a static file)."""

    status = 400
    code = "http_error"
    title = "HTTP error"
    when = "any other status raised by the framework; `detail` names it (`status` is the one sent)"

    def __init__(
        self, status: int, detail: str | None = None, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail or _reason_phrase(status), headers=headers)
        self.status = status


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# --- the catalogue ---------------------------------------------------------------------------


def catalogue() -> list[type[AppError]]:
    """Every class that defines a code, by status then code: the rows of docs/problems.md."""
    found: list[type[AppError]] = []
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        if "code" in vars(cls):
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: (cls is HttpError, cls.status, cls.code))


# The problem for a bare HTTP status (routing, HTTPException, the framework's body parsing).
_FOR_STATUS: dict[int, type[AppError]] = {
    cls.status: cls
    for cls in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        MethodNotAllowedError,
        ConflictError,
        PreconditionFailedError,
        PayloadTooLargeError,
        UnsupportedMediaTypeError,
        UnprocessableError,
        PreconditionRequiredError,
        RateLimitedError,
        AppError,
        ServiceUnavailableError,
        RequestTimeoutError,
    )
}


def error_for_status(
    status: int, detail: str | None = None, headers: Mapping[str, str] | None = None
) -> AppError:
    """The catalogued problem for an HTTP status raised outside this hierarchy."""
    cls = _FOR_STATUS.get(status)
    if cls is None:
        return HttpError(status, detail, headers=headers)
    return cls(detail, headers=headers)
