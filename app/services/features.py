"""Feature flags of an organization: the settings' defaults, with its overrides on top."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.features import DEFAULTS, Feature
from app.models import FeatureFlag, Organization


async def effective_flags(*, session: AsyncSession, defaults: Mapping[Feature, bool]) -> dict[Feature, bool]:
    """For the organization the session is bound to (one indexed read)."""
    flags = {**DEFAULTS, **defaults}
    known = {feature.value for feature in Feature}
    for name, enabled in await session.execute(select(FeatureFlag.name, FeatureFlag.enabled)):
        if name in known:
            flags[Feature(name)] = enabled
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
