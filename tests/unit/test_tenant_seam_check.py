"""Nothing reaches a tenant model around the seam (app/db/session/tenancy.py): checked, not remembered.

The seam scopes every ORM statement of the app's sessions. The ways around it are few, and
each is watched here over the source of `app/`:
- lifting the scope: `system_scope(...)` is called only with a named reason, from the modules
  that reason belongs to;
- a raw connection (`Database.autocommit()`, `engine.connect()` / `engine.begin()`) in a module
  that uses a tenant model: such a connection is no `TenantSession`;
- hand-written SQL (`text(...)`) naming a tenant table.
"""

from __future__ import annotations

import ast
import re

from app.db.session.tenancy import SYSTEM_SCOPES, TenantScoped
from app.models import Base
from tests.unit.test_layers import modules

# Which module may lift tenant scoping, and for which named reason.
SYSTEM_SCOPE_USERS = {
    "cli": {"app/cli.py"},
    "signup": {"app/services/accounts.py"},
    "worker": {"app/tasks/context.py"},
}
# Where tenant tables may be named in SQL: the seam, the RLS policies, migrations.
SQL_ALLOWED = {"app/db/session/tenancy.py", "app/db/row_level_security.py", "app/db/migrate.py"}
RAW_CONNECTIONS = {"autocommit", "connect", "begin"}

TENANT_MODELS = {mapper.class_ for mapper in Base.registry.mappers if issubclass(mapper.class_, TenantScoped)}
TENANT_TABLES = {str(getattr(model, "__tablename__")) for model in TENANT_MODELS}  # noqa: B009


def _calls(tree: ast.Module) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def test_the_reasons_are_the_named_ones() -> None:
    assert set(SYSTEM_SCOPE_USERS) <= SYSTEM_SCOPES


def test_scoping_is_lifted_only_for_named_reasons_where_they_belong() -> None:
    found = []
    for name, tree in modules():
        if name == "app/db/session/tenancy.py":
            continue
        for call in _calls(tree):
            if _name(call) != "system_scope":
                continue
            reason = call.args[1] if len(call.args) > 1 else None
            if not isinstance(reason, ast.Constant) or name not in SYSTEM_SCOPE_USERS.get(
                str(reason.value), set()
            ):
                found.append(f"{name}:{call.lineno}")
    assert found == []


def test_no_raw_connection_reaches_a_tenant_model() -> None:
    """A block on a raw connection (`async with database.autocommit() as connection:`) never
    names a tenant model: such a connection is no `TenantSession`, so nothing would scope it."""
    model_names = {model.__name__ for model in TENANT_MODELS}
    found = []
    for name, tree in modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.With | ast.AsyncWith):
                continue
            raw = any(
                isinstance(item.context_expr, ast.Call) and _name(item.context_expr) in RAW_CONNECTIONS
                for item in node.items
            )
            named = {
                inner.id
                for statement in node.body
                for inner in ast.walk(statement)
                if isinstance(inner, ast.Name)
            }
            if raw and named & model_names:
                found.append(f"{name}:{node.lineno}")
    assert found == []


def test_no_hand_written_sql_names_a_tenant_table() -> None:
    pattern = re.compile(r"\b(" + "|".join(sorted(TENANT_TABLES)) + r")\b", re.IGNORECASE)
    found = []
    for name, tree in modules():
        if name in SQL_ALLOWED:
            continue
        for call in _calls(tree):
            if _name(call) != "text":
                continue
            for argument in call.args:
                for node in ast.walk(argument):
                    if (
                        isinstance(node, ast.Constant)
                        and isinstance(node.value, str)
                        and pattern.search(node.value)
                    ):
                        found.append(f"{name}:{call.lineno}")
    assert found == []


def test_the_check_knows_the_tenant_tables() -> None:
    assert "memberships" in TENANT_TABLES
