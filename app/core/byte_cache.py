"""A bounded, in-process cache of rendered bytes (invoice PDFs), behind a two-method interface.

`ByteCache` is all its users see, so the store can move (to a shared cache layer, Redis)
without touching them. `LruByteCache` is the process-local one: least recently used first out,
bounded by the total size of the values, so a burst of large documents cannot grow memory
without limit. A value larger than `max_entry_bytes` is not kept at all: one huge document
would otherwise push out many small ones that are asked for more often.

Keys are strings chosen by the caller and must name the exact content (the invoice's id and
its representation's tag): an entry is never invalidated, only pushed out, because a changed
invoice has a new key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol


class ByteCache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, value: bytes) -> None: ...


class LruByteCache:
    """Least recently used out first, at most `max_bytes` of values in all. Thread-safe."""

    def __init__(self, *, max_bytes: int, max_entry_bytes: int | None = None) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes if max_entry_bytes is None else min(max_entry_bytes, max_bytes)
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: str, value: bytes) -> None:
        if len(value) > self.max_entry_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._size -= len(previous)
            self._entries[key] = value
            self._size += len(value)
            while self._size > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._size -= len(evicted)

    @property
    def size(self) -> int:
        """The bytes held now."""
        return self._size

    def __len__(self) -> int:
        return len(self._entries)
