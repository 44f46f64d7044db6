"""PostgreSQL row-level security for tenant tables: the database's copy of the tenant seam.

Migrations call `enable_tenant_isolation(table)` for every table of a `TenantScoped` model.
The policy reads the transaction-local settings that `app/db/session/tenancy.py` writes at the
start of each transaction, so a statement that forgets the organization filter (raw SQL
included) still sees and writes only the bound organization's rows:

- `app.org_id`: the organization bound; empty, when none is, matches no row;
- `app.user_id`: the user bound, for the tables that let users read their own rows;
- `app.credential_hash`: a presented secret's hash, which makes its own row readable (an API
  key found before its organization is known);
- `app.system_scope`: a named system scope (the CLI, workers): no filter.

RLS is FORCEd, so it binds the tables' owner as well; only superusers and BYPASSRLS roles
skip it, and the API must connect as neither (docs/architecture.md).
"""

from __future__ import annotations

import re

from alembic import op

FUNCTIONS = (
    "CREATE OR REPLACE FUNCTION app_org_id() RETURNS uuid LANGUAGE sql STABLE AS "
    "$$ SELECT NULLIF(current_setting('app.org_id', true), '')::uuid $$",
    "CREATE OR REPLACE FUNCTION app_user_id() RETURNS uuid LANGUAGE sql STABLE AS "
    "$$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$",
    "CREATE OR REPLACE FUNCTION app_credential_hash() RETURNS text LANGUAGE sql STABLE AS "
    "$$ SELECT NULLIF(current_setting('app.credential_hash', true), '') $$",
    "CREATE OR REPLACE FUNCTION app_system_scope() RETURNS boolean LANGUAGE sql STABLE AS "
    "$$ SELECT COALESCE(current_setting('app.system_scope', true), '') <> '' $$",
)

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def create_scope_functions() -> None:
    if is_postgresql():
        for statement in FUNCTIONS:
            op.execute(statement)


def enable_tenant_isolation(
    table: str,
    *,
    readable_by_user_column: str | None = None,
    readable_by_credential_column: str | None = None,
) -> None:
    """FORCE RLS on `table`: rows of the bound organization only (and, for reads, the bound
    user's own rows when `readable_by_user_column` names the column holding the user, or the
    row of the bound credential when `readable_by_credential_column` names its hash)."""
    if not is_postgresql():
        return  # SQLite: the ORM seam is the only guard (README, "Tenancy")
    table = _identifier(table)
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        "USING (app_system_scope() OR org_id = app_org_id()) "
        "WITH CHECK (app_system_scope() OR org_id = app_org_id())"
    )
    if readable_by_user_column:
        column = _identifier(readable_by_user_column)
        op.execute(f"CREATE POLICY own_rows_readable ON {table} FOR SELECT USING ({column} = app_user_id())")
    if readable_by_credential_column:
        column = _identifier(readable_by_credential_column)
        op.execute(
            f"CREATE POLICY own_credential_readable ON {table} "
            f"FOR SELECT USING ({column} = app_credential_hash())"
        )


def create_credential_function() -> None:
    """`app_credential_hash()`, for databases migrated before it was part of FUNCTIONS."""
    if is_postgresql():
        op.execute(FUNCTIONS[2])
