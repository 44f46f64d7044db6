"""compose.yaml: valid Compose, and the services the suite and the full mode expect, kept local."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec" / "compose-spec.json"
# The ports the suite's defaults and .env.example name (tests/conftest.py, .env.example).
EXPECTED_PORTS = {"postgres": 5432, "redis": 6379, "rabbitmq": 5672}
# A full release number (PostgreSQL's have two parts, the others three), optionally a variant:
# a tag that does not move to another release under us, as `redis:7` or `latest` would.
PINNED_IMAGE = re.compile(r"^[a-z0-9./-]+:\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))
    errors = [
        f"{'/'.join(map(str, error.instance_path))}: {error.message}"
        for error in validator.iter_errors(compose)
    ]
    assert errors == []


def test_the_schema_refuses_what_compose_refuses() -> None:
    """The check can fail: a misspelt key and a port of the wrong type are refused."""
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))
    assert not validator.is_valid({"services": {"db": {"image": "postgres:15.10", "healthchek": {}}}})
    assert not validator.is_valid({"services": {"db": {"image": "postgres:15.10", "ports": {"5432": 5432}}}})


def test_services_are_pinned_local_and_healthchecked(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == set(EXPECTED_PORTS)
    for name, service in services.items():
        assert PINNED_IMAGE.match(service["image"]), f"{name}: pin an exact version, not {service['image']}"
        # Loopback only: a published port without a host address listens on every interface.
        assert service["ports"] == [f"127.0.0.1:{EXPECTED_PORTS[name]}:{EXPECTED_PORTS[name]}"], name
        assert service["healthcheck"]["test"][0] == "CMD", name


def test_postgresql_keeps_its_data_in_a_named_volume(compose: dict[str, Any]) -> None:
    [mount] = compose["services"]["postgres"]["volumes"]
    volume, target = mount.split(":", 1)
    assert target == "/var/lib/postgresql/data"
    assert volume in compose["volumes"]
