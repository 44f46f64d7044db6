"""Process lifecycle: tell the load balancer we are leaving before we stop serving.

On SIGTERM the process first turns *draining*: `/readyz` answers 503 at once so the load
balancer (or Kubernetes) stops sending new traffic, while requests keep being served. After
`shutdown_drain_seconds` the signal is handed on to the server, which then finishes in-flight
requests within its graceful-shutdown timeout and exits.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from app.core.logging import get_logger

logger = get_logger(__name__)


class Lifecycle:
    def __init__(self) -> None:
        self.draining = False

    def begin_drain(self) -> None:
        self.draining = True

    @contextmanager
    def intercept_termination(self, drain_seconds: float) -> Iterator[None]:
        """Chain onto the server's SIGTERM handler for the duration of the app's life.

        Only when a server (uvicorn) has installed a handler: under a test client SIGTERM
        keeps its default meaning.
        """
        previous = signal.getsignal(signal.SIGTERM)
        if threading.current_thread() is not threading.main_thread() or not callable(previous):
            yield
            return
        loop = asyncio.get_running_loop()

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            if self.draining:
                previous(signum, frame)  # a second signal: stop now
                return
            self.begin_drain()
            logger.info("shutdown_draining", drain_seconds=drain_seconds)
            if drain_seconds > 0:
                loop.call_soon_threadsafe(loop.call_later, drain_seconds, _forward, signum)
            else:
                previous(signum, frame)

        def _forward(signum: int) -> None:
            previous(signum, None)

        handler: Any = on_sigterm
        signal.signal(signal.SIGTERM, handler)
        try:
            yield
        finally:
            if signal.getsignal(signal.SIGTERM) is handler:
                signal.signal(signal.SIGTERM, previous)
