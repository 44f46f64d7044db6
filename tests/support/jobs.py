"""Waiting for the jobs an app runs in-process (JOB_RUNNER=in_process) to be done."""

from __future__ import annotations

from typing import Any


async def settle_jobs(app: Any, *, timeout_seconds: float = 10.0) -> None:
    """Return once the app's job runtime has nothing running and its relay nothing pending."""
    runtime = getattr(app.state, "job_runtime", None)
    if runtime is not None:
        await runtime.settle(timeout_seconds=timeout_seconds)


def settling_hooks(app: Any) -> dict[str, list[Any]]:
    """httpx event hooks for a client of its own on `app`: each response is handed over once
    the jobs it caused have run (as the suite's `client` fixture does)."""

    async def settle(_response: Any) -> None:
        await settle_jobs(app)

    return {"response": [settle]}
