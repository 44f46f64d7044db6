"""Feature flags: defaults from settings, per-organization overrides, and what a flag switches."""

from __future__ import annotations

import anyio
import httpx
import pytest
from typer.testing import CliRunner, Result

from app.cli import cli
from app.core.config import SettingsError
from app.core.permissions import Role
from tests.conftest import ClientFactory, app_database, settings_for_test
from tests.support.tenants import make_tenant

pytestmark = pytest.mark.anyio


async def run_cli(database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    """The operator's command, as the README prints it (in a thread: it runs its own event loop)."""
    for name, value in app_database(database_url).items():
        monkeypatch.setenv(name.upper(), value)
    monkeypatch.setenv("APP_ENV", "test")
    return await anyio.to_thread.run_sync(lambda: CliRunner().invoke(cli, list(args)))


async def set_feature(
    database_url: str, slug: str, feature: str, state: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    result = await run_cli(database_url, monkeypatch, "set-feature", slug, feature, state)
    assert result.exit_code == 0, result.output
    return result.output


async def test_the_default_comes_from_settings(make_client: ClientFactory) -> None:
    async with make_client() as client:
        acme = await make_tenant(client)
        assert (await client.get(acme.path("/features"), headers=acme.auth[Role.VIEWER])).json() == {
            "audit_log": True,
            "overdue_reminders": False,
        }
        assert (await client.get(acme.path("/audit-log"), headers=acme.auth[Role.ADMIN])).status_code == 200
    async with make_client(feature_defaults={"audit_log": False}) as client:
        acme = await make_tenant(client, "Initech")
        assert (await client.get(acme.path("/features"), headers=acme.auth[Role.VIEWER])).json() == {
            "audit_log": False,
            "overdue_reminders": False,
        }
        refused = await client.get(acme.path("/audit-log"), headers=acme.auth[Role.ADMIN])
        assert refused.status_code == 403
        assert refused.json()["code"] == "feature_disabled"


async def test_an_override_switches_one_organization_only(
    client: httpx.AsyncClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = await make_tenant(client)
    other = await make_tenant(client, "Globex")
    assert "audit_log is off for" in await set_feature(
        database_url, acme.slug, "audit_log", "off", monkeypatch
    )
    assert (await client.get(acme.path("/audit-log"), headers=acme.auth[Role.ADMIN])).status_code == 403
    assert (await client.get(other.path("/audit-log"), headers=other.auth[Role.ADMIN])).status_code == 200
    # Entries are still recorded while reading is off.
    await client.patch(acme.path(), headers=acme.auth[Role.OWNER], json={"name": "Renamed"})
    await set_feature(database_url, acme.slug, "audit_log", "default", monkeypatch)
    entries = (await client.get(acme.path("/audit-log"), headers=acme.auth[Role.ADMIN])).json()["items"]
    assert [entry["action"] for entry in entries] == ["organization.renamed"]


async def test_the_command_refuses_what_it_does_not_know(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown_feature = await run_cli(database_url, monkeypatch, "set-feature", "acme", "time_travel", "on")
    assert unknown_feature.exit_code == 2
    unknown_state = await run_cli(database_url, monkeypatch, "set-feature", "acme", "audit_log", "maybe")
    assert unknown_state.exit_code == 2
    no_such_org = await run_cli(database_url, monkeypatch, "set-feature", "no-such-org", "audit_log", "on")
    assert no_such_org.exit_code == 1
    assert "No organization with the slug no-such-org" in no_such_org.output


def test_unknown_features_in_settings_are_refused() -> None:
    with pytest.raises(SettingsError, match="FEATURE_DEFAULTS"):
        settings_for_test(feature_defaults={"time_travel": True})
