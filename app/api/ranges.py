"""One byte range of a download (RFC 9110 §14): parsed, checked against the size, or ignored.

A `Range` this server does not honour (several ranges, another unit, bad syntax, or an
`If-Range` that names another version) is ignored, and the whole file is sent with 200, as the
RFC allows. A single range that starts past the end is 416 with `Content-Range: bytes */size`.
"""

from __future__ import annotations

import re

from app.core.errors import RangeNotSatisfiableError

_SINGLE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


def requested_range(
    header: str | None, *, size: int, if_range: str | None, etag: str
) -> tuple[int, int] | None:
    """`(start, end)` with `end` exclusive, or None for the whole file."""
    if header is None or (if_range is not None and if_range.strip() != etag):
        return None
    match = _SINGLE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiableError(size)
        return max(0, size - suffix), size
    start = int(first)
    end = size if not last else int(last) + 1
    if last and end <= start:
        return None  # last before first: invalid, so ignored
    if start >= size:
        raise RangeNotSatisfiableError(size)
    return start, min(end, size)
