"""401 and 403: who the caller is, and what they may do."""

from __future__ import annotations

from app.core.errors.base import AppError


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
