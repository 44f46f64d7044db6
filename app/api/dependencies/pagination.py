"""List parameters: bounded `limit` everywhere (default 50, max 200; beyond is a 422), and
keyset cursors that are opaque and bound to their list (app/core/security/cursors.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from app.api.contract import Declares, declare
from app.api.dependencies.core import services_of
from app.core.errors import InvalidCursorError
from app.core.security.cursors import CursorCodec

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


@dataclass(frozen=True, slots=True)
class CursorParams:
    limit: int
    cursor: str | None
    codec: CursorCodec
    request: Request
    response: Response

    def position(self, *, binding: str) -> uuid.UUID | None:
        """Where the page starts: after the cursor's row (400 for a cursor of another list)."""
        return None if self.cursor is None else self.codec.decode(self.cursor, binding=binding)

    def next_cursor(self, last: uuid.UUID | None, *, binding: str) -> str | None:
        """The cursor after `last` (None: this was the last page), also sent as `Link: rel="next"`."""
        if last is None:
            return None
        return self._linked(self.codec.encode(last, binding=binding))

    def keyset(self, *, binding: str, arity: int) -> list[str] | None:
        """As `position`, for a list sorted by other columns: the last row's values, as text."""
        if self.cursor is None:
            return None
        return self.codec.decode_keyset(self.cursor, binding=binding, arity=arity)

    def next_keyset_cursor(self, last: Sequence[str] | None, *, binding: str) -> str | None:
        if last is None:
            return None
        return self._linked(self.codec.encode_keyset(last, binding=binding))

    def _linked(self, cursor: str) -> str:
        url = self.request.url.include_query_params(cursor=cursor, limit=self.limit)
        self.response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
        return cursor


async def cursor_params(
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 200).")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="From the previous page's `next_cursor` (or its `Link` header)."),
    ] = None,
) -> CursorParams:
    return CursorParams(
        limit=limit,
        cursor=cursor,
        codec=services_of(request).cursor_codec,
        request=request,
        response=response,
    )


CursorParamsDep = Annotated[CursorParams, Depends(cursor_params)]
declare(cursor_params, Declares(problems=(InvalidCursorError,)))
