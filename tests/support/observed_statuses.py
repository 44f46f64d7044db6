"""Every status the API tests see on an operation must be one the OpenAPI document declares.

`running_app` clients record (method, path, status) of each response they receive. At the end
of the run the controller matches each path to the document's operations and lists the statuses
an operation answered without declaring them; the run then fails. Requests to no documented
operation (an unknown path, a method the path does not have, routes a test added) are not
checked.

Robust under pytest-xdist: every process writes what it saw to a file of its own in a directory
the controller creates (and passes on to the workers in the environment) and reads at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from tests.support.openapi import operations, template_pattern

DIRECTORY_VARIABLE = "INVOICER_TEST_OBSERVED_STATUSES"

_seen: set[tuple[str, str, int]] = set()


async def record(response: httpx.Response) -> None:
    """An httpx response hook."""
    _seen.add((response.request.method, response.request.url.path, response.status_code))


def start(is_controller: bool) -> None:
    if is_controller and DIRECTORY_VARIABLE not in os.environ:
        os.environ[DIRECTORY_VARIABLE] = tempfile.mkdtemp(prefix="invoicer-statuses-")


def save() -> None:
    directory = os.environ.get(DIRECTORY_VARIABLE)
    if directory and _seen:
        path = Path(directory) / f"{os.getpid()}.json"
        path.write_text(json.dumps(sorted(_seen)))


def collect_and_clean_up() -> set[tuple[str, str, int]]:
    directory = os.environ.pop(DIRECTORY_VARIABLE, None)
    if directory is None:
        return set()
    seen: set[tuple[str, str, int]] = set()
    for path in Path(directory).glob("*.json"):
        seen |= {(method, url_path, status) for method, url_path, status in json.loads(path.read_text())}
    shutil.rmtree(directory, ignore_errors=True)
    return seen


def undeclared(document: dict[str, Any], seen: Iterable[tuple[str, str, int]]) -> list[str]:
    """`METHOD /template: status` for each status seen on an operation that does not declare it."""
    declared: dict[tuple[str, str], set[str]] = {
        (method, path): set(operation["responses"]) for method, path, operation in operations(document)
    }
    # A literal path before a templated one that would also match it (`/me` before `/{id}`).
    templates = sorted(
        ((path, template_pattern(path)) for path in document["paths"]), key=lambda item: item[0].count("{")
    )
    found: set[str] = set()
    for method, url_path, status in seen:
        template = next((path for path, pattern in templates if pattern.match(url_path)), None)
        statuses = declared.get((method, template)) if template else None
        if statuses is None:
            continue
        if str(status) not in statuses and f"{str(status)[0]}XX" not in statuses:
            found.add(f"{method} {template}: {status} (declared: {', '.join(sorted(statuses))})")
    return sorted(found)
