"""docs/permissions.md shows the one role table (app/core/permissions.py), rendered from it.

When the table changes, regenerate the page:
`UPDATE_DOCS=1 .venv/bin/pytest tests/unit/test_permission_table.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.core.permissions import PERMISSION_MEANINGS, ROLE_PERMISSIONS, Permission, Role

DOCS = Path(__file__).parents[2] / "docs" / "permissions.md"

HEADER = """# Roles and permissions

Every tenant route names the permission it needs (in the OpenAPI document, under
`x-required-permissions` of each operation) and `RequirePermission` enforces it
(`app/api/dependencies/tenancy.py`). Callers who are not members of the organization get 404,
members whose role lacks the permission 403. Rules about particular objects (administrators
never touch owners; an organization keeps an owner; members edit only their own drafts) are
enforced by the services, so the CLI and workers obey them too.

This page is generated from `app/core/permissions.py` by `tests/unit/test_permission_table.py`
(`UPDATE_DOCS=1` rewrites it); `tests/api/test_permission_matrix.py` checks every tenant
route against it for every role.

"""


def render_table() -> str:
    roles = list(Role)
    lines = [
        "| permission | what it allows | " + " | ".join(role.value for role in roles) + " |",
        "|---|---|" + "---|" * len(roles),
    ]
    for permission in Permission:
        marks = " | ".join("✔" if permission in ROLE_PERMISSIONS[role] else "" for role in roles)
        lines.append(f"| `{permission.value}` | {PERMISSION_MEANINGS[permission]} | {marks} |")
    return HEADER + "\n".join(lines) + "\n"


def test_every_permission_says_what_it_allows() -> None:
    assert set(PERMISSION_MEANINGS) == set(Permission)


def test_docs_show_the_table() -> None:
    rendered = render_table()
    if os.environ.get("UPDATE_DOCS") == "1":
        DOCS.write_text(rendered)
    assert DOCS.read_text() == rendered, (
        "regenerate: UPDATE_DOCS=1 .venv/bin/pytest tests/unit/test_permission_table.py"
    )
