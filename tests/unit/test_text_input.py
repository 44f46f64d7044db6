"""The input types: email addresses and single-line text are normalised first, then validated."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import String

from app.core.email_address import EMAIL_MAX_LENGTH, InvalidEmailAddressError, canonical_email
from app.models import Organization, User
from app.schemas.common import EmailAddress, Name, SingleLineText


def column_length(model: type[Any], column: str) -> int:
    column_type = model.__table__.c[column].type
    assert isinstance(column_type, String)
    assert column_type.length is not None
    return column_type.length


# Each of these is harmless-looking to a validator that sees the raw text, and address syntax
# (a second @, a list, a display name, a space) once NFKC has folded the fullwidth forms.
HOSTILE_EMAILS = {
    "fullwidth at": "attacker\uff20evil.example@example.com",
    "fullwidth comma": "attacker\uff20evil.example\uff0cvictim@example.com",
    "fullwidth semicolon": "attacker\uff20evil.example\uff1bvictim@example.com",
    "fullwidth angle brackets": "victim\uff1cattacker\uff20evil.example\uff1e@example.com",
    "ideographic space": "victim\u3000attacker@example.com",
    "fullwidth space then comma": "a\uff0c\u3000b@example.com",
    "display name": "Victim <victim@example.com>",
    "list": "victim@example.com, attacker@evil.example",
    "quoted local part": '"victim attacker"@example.com',
    "ip literal": "victim@[192.0.2.1]",
    "line break": "victim@example.com\r\nBcc: attacker@evil.example",
    "expands past the limit": "\u3316" * 80 + "@example.com",  # ㌖ is 1 character, 6 after NFKC
    "idna ascii form": "victim@xn--bcher-kva.example",
    "no at": "victim.example.com",
    "empty": "",
}


@pytest.mark.parametrize("raw", list(HOSTILE_EMAILS.values()), ids=list(HOSTILE_EMAILS))
def test_hostile_addresses_are_refused(raw: str) -> None:
    with pytest.raises(InvalidEmailAddressError):
        canonical_email(raw)
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(EmailAddress).validate_python(raw)
    [error] = caught.value.errors()
    assert error["msg"].startswith("value is not a valid email address")


def test_the_expanding_address_passes_a_check_of_the_raw_text() -> None:
    # Why the order matters: the raw text is within every limit, its normalised form is not.
    raw = HOSTILE_EMAILS["expands past the limit"]
    assert len(raw.encode()) <= EMAIL_MAX_LENGTH
    assert len(unicodedata.normalize("NFKC", raw)) > column_length(User, "email")


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Alice@Example.COM", "alice@example.com"),
        ("  alice@example.com\n", "alice@example.com"),
        (
            "\uff21\uff4c\uff49\uff43\uff45@\uff25\uff58\uff41\uff4d\uff50\uff4c\uff45.com",
            "alice@example.com",
        ),
        ("stra\u00dfe@b\u00fccher.example", "stra\u00dfe@b\u00fccher.example"),
        ("Jose\u0301@example.com", "jos\u00e9@example.com"),  # decomposed input, composed result
    ],
)
def test_addresses_come_back_normalised(raw: str, stored: str) -> None:
    assert canonical_email(raw) == stored
    assert TypeAdapter(EmailAddress).validate_python(raw) == stored


def test_length_is_bounded_after_normalisation() -> None:
    domain = f"{'b' * 63}.{'c' * 63}.{'d' * 57}.com"
    longest = f"{'a' * 64}@{domain}"
    assert len(longest) == EMAIL_MAX_LENGTH
    assert canonical_email(longest) == longest
    with pytest.raises(InvalidEmailAddressError):
        canonical_email(f"{'a' * 65}@{domain}")
    # Upper-case input is as long as its normal form: the bound is on characters, not bytes.
    assert canonical_email(longest.upper()) == longest
    # The input is held to the bound the schema states too, even if stripping would shorten it.
    with pytest.raises(InvalidEmailAddressError):
        canonical_email(f"{longest} ")


def test_every_accepted_address_fits_its_column() -> None:
    assert column_length(User, "email") >= EMAIL_MAX_LENGTH


def test_email_schema_says_format_and_bound() -> None:
    assert TypeAdapter(EmailAddress).json_schema() == {
        "type": "string",
        "format": "email",
        "maxLength": EMAIL_MAX_LENGTH,
    }


class Names(BaseModel):
    name: Name
    optional: Name | None = None


def name_errors(**fields: Any) -> list[str]:
    try:
        Names.model_validate({"name": "ok", **fields})
    except ValidationError as error:
        return [str(item["msg"]) for item in error.errors()]
    return []


HOSTILE_NAMES = {
    "spaces": ("   ", "String should have at least 1 character"),
    "ideographic spaces": ("\u3000\u3000", "String should have at least 1 character"),
    "line separator": ("Bob\u2028Smith", "line separators"),
    "paragraph separator": ("Bob\u2029Smith", "paragraph separators"),
    "right-to-left override": ("Bob\u202eSmith", "invisible formatting"),
    "left-to-right isolate": ("Bob\u2066Smith\u2069", "invisible formatting"),
    "left-to-right mark": ("Bob\u200eSmith", "invisible formatting"),
    "right-to-left mark": ("Bob\u200fSmith", "invisible formatting"),
    "arabic letter mark": ("Bob\u061cSmith", "invisible formatting"),
    "zero-width space": ("Bob\u200bSmith", "invisible formatting"),
    "byte order mark": ("\ufeffBob", "invisible formatting"),
    "stray tag characters": ("Bob\U000e0041\U000e0042", "invisible formatting"),
    "nul": ("Bob\x00", "control characters"),
    "tab": ("Bob\tSmith", "control characters"),
    "next line (C1)": ("Bob\x85Smith", "control characters"),
    "hangul filler": ("\u3164", "blank filler"),
    "braille blank": ("\u2800\u2800", "blank filler"),
    "only a combining mark": ("\u0301", "visible character"),
    # 200 characters as sent, 600 once NFC decomposes these presentation forms.
    "expands past the limit": ("\ufb2c" * 200, "String should have at most 200 characters"),
    "padded past the limit": ("x" + " " * 200, "String should have at most 200 characters"),
}


@pytest.mark.parametrize("field", ["name", "optional"])
@pytest.mark.parametrize(("raw", "reason"), list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
def test_hostile_names_are_refused(field: str, raw: str, reason: str) -> None:
    [message] = name_errors(**{field: raw})
    assert reason in message


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("  Zoe\u0308 Lo\u0301pez  ", "Zo\u00eb L\u00f3pez"),
        ("Dev \U0001f469\u200d\U0001f4bb", "Dev \U0001f469\u200d\U0001f4bb"),  # ZWJ sequence kept
        ("\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f FC", None),  # England flag
        ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", None),  # Persian needs ZWNJ
        ("\uff21\uff23\uff2d \u682a\u5f0f\u4f1a\u793e", None),  # fullwidth letters kept (NFC, not NFKC)
        ("x" * 200, None),
    ],
)
def test_real_names_are_accepted_in_nfc(raw: str, stored: str | None) -> None:
    expected = stored if stored is not None else raw
    parsed = Names.model_validate({"name": raw, "optional": raw})
    assert parsed.name == parsed.optional == expected
    assert unicodedata.is_normalized("NFC", parsed.name)


def test_name_bounds_fit_their_columns() -> None:
    assert column_length(User, "full_name") == 200
    assert column_length(Organization, "name") == 200


def test_name_schema_states_its_bounds() -> None:
    assert Names.model_json_schema()["properties"]["name"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "title": "Name",
    }


def test_bounds_are_per_use() -> None:
    adapter = TypeAdapter(Annotated[str, SingleLineText(min_length=3, max_length=5)])
    assert adapter.validate_python(" abc ") == "abc"
    for raw in (" ab ", "abcdef", "  abc  "):
        with pytest.raises(ValidationError):
            adapter.validate_python(raw)
