"""A failing background loop slows down (and logs once); a success brings it back to pace."""

from __future__ import annotations

from app.tasks.loops import MAX_DELAY_SECONDS, LoopFailures


def test_a_failing_loop_waits_longer_after_each_failure_up_to_a_cap() -> None:
    failures = LoopFailures("relay")
    assert failures.delay(1.0) == 1.0
    delays = []
    for _ in range(8):
        try:
            raise RuntimeError("the database is not migrated")
        except RuntimeError:
            failures.failed()
        delays.append(failures.delay(1.0))
    assert delays == [
        2.0,
        4.0,
        8.0,
        16.0,
        MAX_DELAY_SECONDS,
        MAX_DELAY_SECONDS,
        MAX_DELAY_SECONDS,
        MAX_DELAY_SECONDS,
    ]
    failures.succeeded()
    assert failures.delay(1.0) == 1.0


def test_a_slow_base_interval_is_never_shortened() -> None:
    failures = LoopFailures("sweeper")
    try:
        raise RuntimeError("down")
    except RuntimeError:
        failures.failed()
    assert failures.delay(120.0) == 120.0
