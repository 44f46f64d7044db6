"""A streaming `multipart/form-data` reader: parts one after another, a file's bytes as chunks.

Starlette's form parser spools every file to a temporary file before the endpoint sees it, and
bounds only the text fields. Uploads need the file's bytes as they arrive, so that the size
limit is enforced while the body streams (whatever `Content-Length` claimed), the type is
decided from the first bytes before anything is written, and the bytes go to storage in chunks.
This reader drives python-multipart's push parser from the request's stream and hands out:

- `next_part()`: the next part's name, file name and declared `Content-Type`, or `None` at the
  end of the body;
- `data()`: the current part's bytes, chunk by chunk (what the parser found in one read);
- `text(limit)`: a text field's value, refused past `limit` bytes.

A body that is not well-formed multipart is a 400 `bad_request`; part headers are bounded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.core.errors import BadRequestError, InvalidInputError, UnsupportedMediaTypeError

MAX_PART_HEADER_BYTES = 16 * 1024
MAX_PARTS = 16


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    filename: str | None  # present (possibly empty) for a file part
    content_type: str | None


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a `multipart/form-data` body, or 415 for any other body."""
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data":
        raise UnsupportedMediaTypeError("Send the file as multipart/form-data.")
    boundary = options.get(b"boundary")
    if not boundary or len(boundary) > 70:
        raise BadRequestError("The multipart/form-data body has no usable boundary.")
    return boundary


class _Event:
    __slots__ = ()


@dataclass(slots=True)
class _Begin(_Event):
    part: Part


@dataclass(slots=True)
class _Data(_Event):
    data: bytes


class _End(_Event):
    __slots__ = ()


class MultipartReader:
    def __init__(self, chunks: AsyncIterator[bytes], boundary: bytes) -> None:
        self._chunks = chunks
        self._events: deque[_Event] = deque()
        self._finished = False
        self._parts = 0
        self._header_bytes = 0
        self._field = b""
        self._headers: dict[bytes, bytes] = {}
        self._current: Part | None = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
            max_header_size=MAX_PART_HEADER_BYTES,
        )

    # --- what the endpoint calls ----------------------------------------------------------

    async def next_part(self) -> Part | None:
        """The next part's headers, skipping what is left of the current one."""
        while True:
            event = await self._next_event()
            if event is None:
                return None
            if isinstance(event, _Begin):
                self._current = event.part
                return event.part

    async def data(self) -> AsyncIterator[bytes]:
        """The current part's bytes; ends with the part."""
        while True:
            event = await self._next_event()
            if event is None or isinstance(event, _End):
                return
            if isinstance(event, _Data):
                yield event.data

    async def text(self, *, limit: int) -> str:
        assert self._current is not None
        name = self._current.name
        collected = bytearray()
        async for chunk in self.data():
            collected += chunk
            if len(collected) > limit:
                raise InvalidInputError(["body", name], f"at most {limit} bytes", "string_too_long")
        try:
            return collected.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError(["body", name], "must be UTF-8 text", "string_unicode") from None

    # --- pumping the parser ---------------------------------------------------------------

    async def _next_event(self) -> _Event | None:
        while not self._events:
            if self._finished:
                return None
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                self._finished = True
                if not self._ended:
                    raise BadRequestError("The multipart/form-data body ends early.") from None
                return None
            try:
                self._parser.write(chunk)
            except MultipartParseError as error:
                if "header" in str(error).lower():
                    raise BadRequestError(f"A part's headers exceed {MAX_PART_HEADER_BYTES} bytes.") from None
                raise BadRequestError("The multipart/form-data body is malformed.") from None
        return self._events.popleft()

    _ended = False

    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise BadRequestError(f"At most {MAX_PARTS} parts.")
        self._header_bytes = 0
        self._headers = {}
        self._field = b""

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_PART_HEADER_BYTES:
            raise BadRequestError(f"A part's headers exceed {MAX_PART_HEADER_BYTES} bytes.")

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count(end - start)
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count(end - start)
        key = self._field.lower()
        self._headers[key] = self._headers.get(key, b"") + data[start:end]

    def _on_header_end(self) -> None:
        self._field = b""

    def _on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise BadRequestError("Each part needs Content-Disposition: form-data with a name.")
        filename = options.get(b"filename")
        content_type = self._headers.get(b"content-type")
        self._events.append(
            _Begin(
                Part(
                    name=options[b"name"].decode("utf-8", "replace"),
                    filename=None if filename is None else filename.decode("utf-8", "replace"),
                    content_type=None if content_type is None else content_type.decode("latin-1").strip(),
                )
            )
        )

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self._events.append(_Data(bytes(data[start:end])))

    def _on_part_end(self) -> None:
        self._events.append(_End())

    def _on_end(self) -> None:
        self._ended = True
