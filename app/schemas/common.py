"""Shapes shared by every resource: list envelopes and strict input models."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, PydanticKnownError, core_schema

from app.core.email_address import EMAIL_MAX_LENGTH, InvalidEmailAddressError, canonical_email


def _rfc3339_utc(value: datetime) -> str:
    """RFC 3339 in UTC with `Z` (the API's timestamp convention), never `+00:00`."""
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


UtcDateTime = Annotated[datetime, PlainSerializer(_rfc3339_utc, return_type=str, when_used="json")]


class StrictInput(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


ItemT = TypeVar("ItemT")

# Names are text people read, so NFC: it only unifies canonically equivalent spellings (a
# precomposed "é" and "e" + U+0301) and keeps what the person typed (fullwidth letters in a
# Japanese company name, a "ﬁ" ligature). Identifiers that are compared or routed on (email
# addresses, slugs) use NFKC/NFKD instead, so compatibility variants cannot make look-alike
# duplicates (see app/core/email_address.py and `slugify`).
_TEXT_NORMAL_FORM: Literal["NFC"] = "NFC"

# A subdivision flag (England: U+1F3F4, tag letters, U+E007F cancel tag) is the one legitimate
# use of the otherwise invisible tag characters, which are refused anywhere else.
_EMOJI_TAG_SEQUENCE = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")
# Format characters (Cf) that stay allowed: ZWNJ and ZWJ are part of how Persian, Indic and
# other scripts are written, and ZWJ joins emoji sequences (👩‍💻).
_ALLOWED_FORMAT_CHARACTERS = frozenset("\u200c\u200d")
# Letters and symbols that render as nothing: with them a "name of spaces" would pass as text.
_BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_REFUSED_CATEGORIES = {
    "Cc": "control characters (tabs, line breaks, NUL)",
    "Cs": "unpaired surrogates",
    "Zl": "line separators",
    "Zp": "paragraph separators",
}


def _refuse_hidden_or_multiline(value: str) -> None:
    # PostgreSQL refuses NUL in text outright (a 500 if it got that far) while SQLite stores it;
    # the other characters refused here are invisible ones that break a name onto several lines
    # in emails and logs, reorder what is displayed around them (bidi overrides, as in "Trojan
    # Source"), or hide text.
    visible = False
    for char in _EMOJI_TAG_SEQUENCE.sub("\U0001f3f4", value):
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES:
            raise PydanticCustomError(
                "single_line", "must not contain {what}", {"what": _REFUSED_CATEGORIES[category]}
            )
        if category == "Cf" and char not in _ALLOWED_FORMAT_CHARACTERS:
            raise PydanticCustomError(
                "single_line",
                "must not contain invisible formatting characters (U+{code}: bidirectional overrides "
                "and isolates, direction marks, zero-width spaces, tags)",
                {"code": f"{ord(char):04X}"},
            )
        if char in _BLANK_CHARACTERS:
            raise PydanticCustomError(
                "single_line",
                "must not contain blank filler characters (U+{code})",
                {"code": f"{ord(char):04X}"},
            )
        visible = visible or category[0] in "LNPS" or category in {"Co", "Cn"}
    if not visible:
        raise PydanticCustomError("single_line", "must contain a visible character")


@dataclass(frozen=True, slots=True)
class SingleLineText:
    """`Annotated[str, SingleLineText(max_length=...)]`: names and titles typed by people.

    In this order, in one validator so no check runs on the raw input alone: normalise (NFC),
    strip surrounding whitespace, check the length bounds (a name of spaces is too short, and
    a name that grows under normalisation is measured as stored), then refuse the characters.
    """

    max_length: int
    min_length: int = 1

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._validate, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(minLength=self.min_length, maxLength=self.max_length)
        return json_schema

    def _check_length(self, value: str) -> None:
        if len(value) < self.min_length:
            raise PydanticKnownError("string_too_short", {"min_length": self.min_length})
        if len(value) > self.max_length:
            raise PydanticKnownError("string_too_long", {"max_length": self.max_length})

    def _validate(self, value: str) -> str:
        # The input keeps to the bounds the schema states (and a megabyte is refused before it
        # is normalised); so does the normalised value, which is what gets stored.
        self._check_length(value)
        value = unicodedata.normalize(_TEXT_NORMAL_FORM, value).strip()
        self._check_length(value)
        if value:
            _refuse_hidden_or_multiline(value)
        return value


# People's and organizations' names: the bound is their columns' (String(200)).
Name = Annotated[str, SingleLineText(max_length=200)]


def _email_address(value: str) -> str:
    try:
        return canonical_email(value)
    except InvalidEmailAddressError as error:
        raise PydanticCustomError(
            "value_error", "value is not a valid email address: {reason}", {"reason": str(error)}
        ) from None


# Every request field that carries an email address. The value a handler gets is normalised
# (NFKC, trimmed, lower-case) and was validated in that form. The length bound is checked in
# `canonical_email`, on the input and on the normalised form; the schema only states it, as a
# `max_length` constraint would measure the input alone.
EmailAddress = Annotated[
    str,
    AfterValidator(_email_address),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": EMAIL_MAX_LENGTH}),
]


def reject_null(value: object) -> object:
    """For PATCH fields that may be omitted but not cleared: an explicit null is an error."""
    if value is None:
        raise ValueError("may be omitted but not null")
    return value


class OffsetPage(BaseModel, Generic[ItemT]):
    """A bounded list: members, invitations, API keys, webhook endpoints, sessions."""

    items: list[ItemT]
    total: int
    limit: int
    offset: int


class CursorPage(BaseModel, Generic[ItemT]):
    """A list that grows without bound: customers, invoices, payments, events, the audit log.

    `next_cursor` is opaque; pass it back as `cursor` for the next page (the `Link` header has
    the whole URL). null on the last page.
    """

    items: list[ItemT]
    next_cursor: str | None
