"""Email addresses: one spelling per address, validated in the form we store, compare and send.

Normalising after validating is the classic hole: a fullwidth comma (U+FF0C) is an ordinary
character to a validator but becomes `,` under NFKC, and `a<U+FF0C>b@example.com` then reaches
the SMTP envelope as two recipients. So the order here is fixed: normalise, then validate the
result, then bound its length; the value a caller gets back is the one that was validated.
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

# RFC 5321 §4.5.3.1.3: a forward path is at most 256 octets including the angle brackets.
# email-validator applies the same 254 to the UTF-8 length; this bounds characters too, so
# the value always fits the users.email column (String(320)).
EMAIL_MAX_LENGTH = 254
# Address syntax that never belongs in a single plain addr-spec as we accept it: list
# separators, display-name brackets, quoting, comments, domain literals, group syntax.
_NOT_IN_A_PLAIN_ADDRESS = frozenset(',;<>"()[]\\:')


class InvalidEmailAddressError(ValueError):
    """The text is not exactly one plain address after normalisation (the message says why)."""


def normalize_email(email: str) -> str:
    """One spelling per address: NFKC, trimmed, lower-case (so uniqueness is case-insensitive).

    NFKC rather than NFC because an address is an identifier: fullwidth and other compatibility
    forms must not give one mailbox several spellings (or several accounts).
    """
    return unicodedata.normalize("NFKC", email).strip().lower()


def canonical_email(raw: str) -> str:
    """The normalised address, if it is exactly one valid plain addr-spec; otherwise raise.

    Plain means: no display name, no angle brackets, no quoted local part, no IP-literal
    domain, no whitespace or control characters, exactly one `@`. No DNS is consulted.
    """
    # Both bounds: the input's is what the API schema promises (and caps the work done on
    # hostile input); the normalised value's is what is stored, and NFKC can expand text.
    too_long = f"must be at most {EMAIL_MAX_LENGTH} characters"
    if len(raw) > EMAIL_MAX_LENGTH:
        raise InvalidEmailAddressError(too_long)
    address = normalize_email(raw)
    if len(address) > EMAIL_MAX_LENGTH:
        raise InvalidEmailAddressError(too_long)
    if address.count("@") != 1:
        raise InvalidEmailAddressError("must contain exactly one @-sign")
    if any(char.isspace() or char in _NOT_IN_A_PLAIN_ADDRESS for char in address):
        raise InvalidEmailAddressError("must be a single plain address (no names, lists, quotes or spaces)")
    try:
        validated = validate_email(
            address,
            check_deliverability=False,
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_empty_local=False,
        )
    except EmailNotValidError as error:
        raise InvalidEmailAddressError(str(error)) from None
    # email-validator has its own normal form (e.g. an IDNA `xn--` domain becomes Unicode).
    # Accepting only its fixed points keeps a single spelling: what normalize_email gives is
    # what is stored and looked up, with no second, divergent canonicalisation to keep in step.
    if validated.normalized != address:
        raise InvalidEmailAddressError(
            "is not in normal form (write an internationalised domain in Unicode, not as xn--)"
        )
    return address
