"""Customers as the API shows and accepts them."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from app.schemas.auth import examples
from app.schemas.common import EmailAddress, Name, SingleLineText, StrictInput, UtcDateTime, reject_null

if TYPE_CHECKING:
    from app.models import Customer

MAX_METADATA_KEYS = 20
MAX_METADATA_VALUE_LENGTH = 500
_METADATA_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")

AddressLine = Annotated[str, SingleLineText(max_length=200)]
TaxId = Annotated[str, SingleLineText(max_length=64)]
# ISO 3166-1 alpha-2, upper case.
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", examples=["DE"])]


class Address(StrictInput):
    """A postal address; sent and stored whole (a PATCH replaces it, null clears it)."""

    line1: AddressLine
    line2: AddressLine | None = None
    city: AddressLine
    region: AddressLine | None = None
    postal_code: Annotated[str, SingleLineText(max_length=32)] | None = None
    country: CountryCode


def _valid_metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_METADATA_KEYS:
        raise PydanticCustomError(
            "metadata_too_many_keys", "at most {limit} keys", {"limit": MAX_METADATA_KEYS}
        )
    for key, item in value.items():
        if not _METADATA_KEY.fullmatch(key):
            raise PydanticCustomError(
                "metadata_key", "key {key!r} must be 1-40 of A-Z a-z 0-9 _ . -", {"key": key[:50]}
            )
        if len(item) > MAX_METADATA_VALUE_LENGTH:
            raise PydanticCustomError(
                "metadata_value_too_long",
                "the value of {key!r} is longer than {limit} characters",
                {"key": key, "limit": MAX_METADATA_VALUE_LENGTH},
            )
    return value


# Free-form string pairs for the client's own references: bounded in keys, key shape and size.
Metadata = Annotated[
    dict[str, Annotated[str, Field(max_length=MAX_METADATA_VALUE_LENGTH)]],
    Field(
        max_length=MAX_METADATA_KEYS,
        description="Up to 20 keys (1-40 of `A-Za-z0-9_.-`), values up to 500 characters.",
    ),
    AfterValidator(_valid_metadata),
]


class CustomerCreate(StrictInput):
    model_config = examples(
        {
            "name": "Globex Trading GmbH",
            "email": "billing@globex.example.com",
            "address": {"line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
            "tax_id": "DE123456789",
            "metadata": {"crm_id": "4711"},
        }
    )

    name: Name
    email: EmailAddress | None = None
    address: Address | None = None
    tax_id: TaxId | None = None
    metadata: Metadata = Field(default_factory=dict)


class CustomerUpdate(StrictInput):
    """PATCH: only the fields sent are applied; null clears `email`, `address` and `tax_id`."""

    model_config = examples({"email": "accounts@globex.example.com", "tax_id": None})

    name: Name | None = None
    email: EmailAddress | None = None
    address: Address | None = None
    tax_id: TaxId | None = None
    metadata: Metadata | None = None

    _not_null = field_validator("name", "metadata", mode="before")(reject_null)


class CustomerPublic(BaseModel):
    id: uuid.UUID
    name: str
    email: str | None
    address: Address | None
    tax_id: str | None
    metadata: dict[str, str]
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @classmethod
    def from_model(cls, customer: Customer) -> CustomerPublic:
        """The one mapping from the stored customer: API responses and event snapshots agree."""
        return cls(
            id=customer.id,
            name=customer.name,
            email=customer.email,
            address=Address.model_validate(customer.address) if customer.address else None,
            tax_id=customer.tax_id,
            metadata=customer.metadata_,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
        )
