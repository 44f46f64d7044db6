"""How pytest-xdist (`pytest -n N`) shares the suite out among its worker processes.

As `--dist load` (each test its own unit of work, handed to whichever worker is free), except
that the tests of a module that starts one server for all of them (a module-scoped fixture)
form one unit: split across workers, each worker would start a server of its own. The larger
units go out first, so the run does not end with one worker busy and the other idle.

xdist's own `--dist loadgroup` would do this from `xdist_group` marks, but with pytest 9.2 it
silently groups nothing (it renames node ids, which pytest 9.2 no longer allows), and the
process handing out the work never sees the marks, only node ids: hence the module list.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScopeScheduling

# Each has a module-scoped fixture that starts `invoicer serve` (the fuzz module: once per mode).
SHARED_SERVER_MODULES = frozenset(
    {
        "tests/integration/test_api_fuzz.py",
        "tests/integration/test_server_limits.py",
    }
)


def unit_of_work(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    return module if module in SHARED_SERVER_MODULES else nodeid


class SharedServerScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no types
    def _split_scope(self, nodeid: str) -> str:
        return unit_of_work(nodeid)


def make_scheduler(config: Any, log: Any) -> SharedServerScheduling | None:
    """For `--dist load` (what `-n N` means by default); any other `--dist` is left to xdist."""
    if config.getvalue("dist") != "load":
        return None
    return SharedServerScheduling(config, log)
