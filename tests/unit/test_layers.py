"""The layering and transaction rules, checked rather than remembered.

- Services hold the business rules and never import the web framework, so the CLI and
  workers can call them.
- A request has one transaction, its `SessionDep`; only code outside a request opens a unit
  of work; reads without a transaction are the named exceptions of app/db/session.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"

# Who may open a unit of work: the request's session dependency, work after the response, the CLI.
UNIT_OF_WORK_OPENERS = {
    "app/api/dependencies/core.py",
    "app/api/dependencies/background.py",
    "app/cli.py",
}
# The jobs (app/tasks): each step of a job is a unit of work of its own.
JOBS_PACKAGE = "app/tasks/"
# The named uses of `Database.autocommit()` (see app/db/session/__init__.py).
AUTOCOMMIT_READERS = {
    "app/services/auth.py",  # the account before a sign-in's password check
    "app/services/accounts.py",  # before a password change's check; a reset link's account
    "app/services/principals.py",  # the browser session behind a cookie
}
WEB_FRAMEWORKS = ("fastapi", "starlette")


def modules(under: Path = APP) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(under.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        yield str(path.relative_to(APP.parent)), ast.parse(path.read_text(), filename=str(path))


def calls_to(tree: ast.Module, method: str) -> int:
    return sum(
        1
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method
    )


def imported_modules(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_services_never_import_the_web_framework() -> None:
    offenders = {
        name: module
        for name, tree in modules(APP / "services")
        for module in imported_modules(tree)
        if module.split(".")[0] in WEB_FRAMEWORKS
    }
    assert offenders == {}


def test_only_code_outside_a_request_opens_a_unit_of_work() -> None:
    openers = {
        name
        for name, tree in modules()
        if calls_to(tree, "unit_of_work") and not name.startswith(JOBS_PACKAGE)
    }
    assert openers == UNIT_OF_WORK_OPENERS


def test_reads_without_a_transaction_are_the_named_exceptions() -> None:
    readers = {name for name, tree in modules() if calls_to(tree, "autocommit")}
    assert readers == AUTOCOMMIT_READERS


def test_the_checks_see_what_they_look_for() -> None:
    """A check that finds nothing could be looking in the wrong place."""
    tree = ast.parse("async def f(d):\n    async with d.unit_of_work() as s:\n        pass\n")
    assert calls_to(tree, "unit_of_work") == 1
    assert list(imported_modules(ast.parse("from fastapi import Depends"))) == ["fastapi"]
