"""`FeatureFlagsDep`: the organization's feature flags, read with the organization itself; and
`RequireFeature(Feature.X)`, which answers 403 `feature_disabled` when X is off there."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.api.contract import Declares, declare
from app.api.dependencies.core import SettingsDep
from app.api.dependencies.tenancy import CurrentOrg
from app.core.errors import FeatureDisabledError
from app.core.features import Feature
from app.services import features


async def get_feature_flags(context: CurrentOrg, settings: SettingsDep) -> dict[Feature, bool]:
    return features.effective_flags(overrides=context.feature_overrides, defaults=settings.feature_defaults)


FeatureFlagsDep = Annotated[dict[Feature, bool], Depends(get_feature_flags)]


class RequireFeature:
    def __init__(self, feature: Feature) -> None:
        self.feature = feature

    async def __call__(self, flags: FeatureFlagsDep) -> None:
        if not flags[self.feature]:
            raise FeatureDisabledError(f"The feature {self.feature.value} is off for this organization.")

    def __repr__(self) -> str:
        return f"RequireFeature({self.feature.value!r})"


declare(RequireFeature, Declares(problems=(FeatureDisabledError,)))
