"""Failures of the background loops (the relay, the sweeper): loud once, then quiet and slower.

A loop that fails every second (a database not migrated yet, or down) must neither flood the
log with a traceback a second nor hammer what is failing: the first failure is logged with its
traceback, the following ones are counted and summarised at most once a minute, and the loop
waits longer after each (doubling, up to MAX_DELAY_SECONDS). The first success says so.
"""

from __future__ import annotations

import time

from app.core.logging import get_logger

logger = get_logger(__name__)
MAX_DELAY_SECONDS = 30.0
SUMMARY_EVERY_SECONDS = 60.0


class LoopFailures:
    def __init__(self, name: str) -> None:
        self._name = name
        self._count = 0
        self._last_summary = 0.0

    def failed(self) -> None:
        """Call from an `except` block: logs the first failure with its traceback."""
        self._count += 1
        now = time.monotonic()
        if self._count == 1:
            logger.exception("background_loop_failed", loop=self._name)
            self._last_summary = now
        elif now - self._last_summary >= SUMMARY_EVERY_SECONDS:
            logger.error("background_loop_still_failing", loop=self._name, failures=self._count)
            self._last_summary = now

    def succeeded(self) -> None:
        if self._count:
            logger.info("background_loop_recovered", loop=self._name, failures=self._count)
            self._count = 0

    def delay(self, base_seconds: float) -> float:
        """How long to wait before the next pass: the base, doubled per consecutive failure."""
        if not self._count:
            return base_seconds
        doubled: float = base_seconds * (1 << min(self._count, 10))
        return min(doubled, max(MAX_DELAY_SECONDS, base_seconds))
