"""Feature flags of an organization: the settings' defaults, with its overrides on top.

The overrides are read with the organization itself, in the tenant seam's one statement
(`overrides_column`, used by app/services/organizations.py): a flag costs no round trip of
its own on the requests that check one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import ScalarSelect, case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.features import DEFAULTS, Feature
from app.models import FeatureFlag, Organization


def overrides_column() -> ScalarSelect[str | None]:
    """The organization's overrides as one text column, `name=1,other=0` (None without any).

    Flag names are snake_case identifiers, so `=` and `,` cannot occur inside one.
    """
    setting = FeatureFlag.name + case((FeatureFlag.enabled, "=1"), else_="=0")
    return (
        select(func.aggregate_strings(setting, ","))
        .where(FeatureFlag.org_id == Organization.id)
        .scalar_subquery()
    )


def parse_overrides(column: str | None) -> dict[str, bool]:
    if not column:
        return {}
    return {name: enabled == "1" for name, _, enabled in (item.partition("=") for item in column.split(","))}


def effective_flags(
    *, overrides: Mapping[str, bool], defaults: Mapping[Feature, bool]
) -> dict[Feature, bool]:
    """The settings' defaults with the organization's overrides on top (unknown names ignored)."""
    flags = {**DEFAULTS, **defaults}
    for feature in Feature:
        if feature.value in overrides:
            flags[feature] = overrides[feature.value]
    return flags


async def set_flag(*, session: AsyncSession, org_slug: str, feature: Feature, enabled: bool | None) -> bool:
    """Override (or, with None, drop the override of) a flag for one organization; False if no
    such organization. For operators (the CLI's system scope)."""
    org_id: uuid.UUID | None = await session.scalar(
        select(Organization.id).where(Organization.slug == org_slug)
    )
    if org_id is None:
        return False
    await session.execute(
        delete(FeatureFlag).where(FeatureFlag.org_id == org_id, FeatureFlag.name == feature.value)
    )
    if enabled is not None:
        session.add(FeatureFlag(org_id=org_id, name=feature.value, enabled=enabled))
    await session.flush()
    return True
