"""What an uploaded file is, decided from its bytes; and what its client-given name may become.

- `sniff(head)`: the type from the magic bytes (PDF, PNG, JPEG), never from the name or the
  declared `Content-Type`, which only has to agree (`declared_type_agrees`).
- `ActiveContentScanner`: whether a PDF carries JavaScript (`/JavaScript`, `/JS`, or a name
  written with `#xx` escapes, the usual way to hide them). Such a file is stored, flagged, and
  like every attachment only ever served as a download.
- `sanitize_filename`: a client's file name as display metadata only (it never names the
  stored object): Unicode NFKC, the last path segment, no control or format characters, no
  leading dots, at most `MAX_FILENAME_CHARS` characters with the extension kept.
- `content_disposition`: RFC 6266 `attachment` with an ASCII `filename` fallback and the exact
  name as RFC 8187 `filename*=UTF-8''...`.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
ALLOWED_TYPES = (PDF, PNG, JPEG)
EXTENSIONS = {PDF: ".pdf", PNG: ".png", JPEG: ".jpg"}
# Enough leading bytes to tell every allowed type apart.
SNIFF_BYTES = 8
MAX_FILENAME_CHARS = 200
# A declared type that says nothing (no header, or the generic binary type) is not a claim.
_UNDECLARED = {"", "application/octet-stream"}
_ALIASES = {"image/jpg": JPEG, "image/pjpeg": JPEG, "application/x-pdf": PDF}


def sniff(head: bytes) -> str | None:
    """The allowed type these leading bytes begin, or None."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    return None


def declared_type_agrees(declared: str | None, sniffed: str) -> bool:
    media_type = (declared or "").split(";", 1)[0].strip().lower()
    if media_type in _UNDECLARED:
        return True
    return _ALIASES.get(media_type, media_type) == sniffed


# /JavaScript or /JS as a PDF name (followed by a delimiter), or any name hiding letters as #xx.
_ACTIVE = re.compile(rb"/(?:JavaScript|JS)(?=[\s/<>\[\]()%{}]|$)|/[A-Za-z]*#[0-9A-Fa-f]{2}")
_OVERLAP = 16


class ActiveContentScanner:
    """Fed a PDF chunk by chunk; `found` once a script marker has been seen."""

    def __init__(self) -> None:
        self.found = False
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        if self.found:
            return
        window = self._tail + chunk
        if _ACTIVE.search(window):
            self.found = True
        self._tail = window[-_OVERLAP:]


_SEPARATORS = re.compile(r"[/\\]")


def _printable(character: str) -> bool:
    # Cc: control; Cf: format (bidi overrides, zero-width); Cs, Co, Cn: surrogates, private, unassigned.
    return unicodedata.category(character) not in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def sanitize_filename(raw: str | None, *, media_type: str) -> str:
    """A display name safe to store and to send back in a header; never a path."""
    name = unicodedata.normalize("NFKC", raw or "")
    name = _SEPARATORS.split(name)[-1]
    name = "".join(character if _printable(character) else "" for character in name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    fallback = "attachment" + EXTENSIONS[media_type]
    if not name:
        return fallback
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: MAX_FILENAME_CHARS - len(extension) - 1].rstrip(" .") + "." + extension
        else:
            name = name[:MAX_FILENAME_CHARS].rstrip(" .")
    return unicodedata.normalize("NFC", name) or fallback


def content_disposition(filename: str) -> str:
    """`attachment`, with an ASCII fallback and, when needed, the UTF-8 name (RFC 6266/8187)."""
    # Letters keep their base (ü: u); combining marks go; anything else not plain ASCII is "_".
    decomposed = unicodedata.normalize("NFKD", filename)
    ascii_name = "".join("" if unicodedata.category(char) == "Mn" else char for char in decomposed)
    ascii_name = re.sub(r"[^A-Za-z0-9 ._()\[\]+-]", "_", ascii_name).strip() or "attachment"
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value
