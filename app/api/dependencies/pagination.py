"""List parameters: bounded `limit` everywhere (default 50, max 200; beyond is a 422)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class OffsetParams:
    limit: int
    offset: int


async def offset_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 200).")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")] = 0,
) -> OffsetParams:
    return OffsetParams(limit=limit, offset=offset)


OffsetParamsDep = Annotated[OffsetParams, Depends(offset_params)]
