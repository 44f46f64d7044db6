"""400: requests the service cannot read or act on as sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.core.errors.base import AppError


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
