"""Settings: environment is the source of truth; staging/prod refuse unsafe values at once."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import Settings, SettingsError, load_settings
from app.core.config.settings import DEV_SECRET_KEY
from app.core.security.jwt import private_key_pem

SAFE_PROD = {
    "app_env": "prod",
    "secret_key": "x" * 48,
    "database_url": "postgresql+asyncpg://invoicer_api:pw@db.internal/invoicer",
    "migration_database_url": "postgresql+asyncpg://invoicer:pw@db.internal/invoicer",
    "trusted_hosts": ["api.invoicer.test"],
    "jwt_private_key": private_key_pem(Ed25519PrivateKey.generate()),
    "email_transport": "smtp",
    "smtp_starttls": True,
    "public_base_url": "https://app.invoicer.test",
    "redis_url": "redis://cache.internal:6379/0",
    "metrics_token": "m" * 40,
}


def test_safe_production_settings_load() -> None:
    settings = load_settings(**SAFE_PROD)
    assert settings.app_env == "prod"
    assert settings.effective_docs_enabled is False
    assert settings.effective_log_format == "json"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"secret_key": DEV_SECRET_KEY}, "SECRET_KEY is the development default"),
        ({"secret_key": "short"}, "SECRET_KEY is shorter than 32"),
        ({"database_url": "sqlite+aiosqlite:///./var/x.db"}, "SQLite"),
        ({"migration_database_url": None}, "a role that does not own the tables"),
        (
            {"migration_database_url": "postgresql+asyncpg://invoicer_api:other@db.internal/invoicer"},
            "a role that does not own the tables",
        ),
        ({"cors_origins": ["*"], "cors_allow_credentials": True}, "CORS_ORIGINS contains '*'"),
        ({"debug": True}, "DEBUG is on"),
        ({"trusted_hosts": ["*"]}, "TRUSTED_HOSTS allows any host"),
        ({"jwt_private_key": None}, "JWT_PRIVATE_KEY is not set"),
        ({"email_transport": "file"}, "EMAIL_TRANSPORT must be smtp"),
        ({"public_base_url": "http://app.invoicer.test"}, "PUBLIC_BASE_URL must be an https"),
        ({"redis_url": None}, "REDIS_URL is not set"),
        ({"redis_url": None, "workers": 4}, "REDIS_URL is not set"),
        ({"forwarded_allow_ips": "*"}, "FORWARDED_ALLOW_IPS trusts any address"),
        ({"forwarded_allow_ips": "10.0.0.2, 0.0.0.0/0"}, "FORWARDED_ALLOW_IPS trusts any address"),
        ({"forwarded_allow_ips": "::/0"}, "FORWARDED_ALLOW_IPS trusts any address"),
        ({"metrics_token": None}, "METRICS_TOKEN is not set while /metrics is on"),
        ({"smtp_starttls": False}, "SMTP without TLS"),
        ({"smtp_use_tls": True}, "SMTP_STARTTLS and SMTP_USE_TLS are both on"),
    ],
)
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_production_refuses_each_insecure_setting(
    env: str, override: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**{**SAFE_PROD, "app_env": env, **override})
    assert message in str(caught.value)
    assert len(caught.value.problems) == 1


def test_every_problem_is_reported_in_one_message() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            app_env="prod",
            debug=True,
            cors_origins=["*"],
            cors_allow_credentials=True,
            forwarded_allow_ips="*",
            workers=4,
        )
    text = str(caught.value)
    assert text.startswith("Invoicer refuses to start with these settings (APP_ENV=prod):")
    expected = [
        "SECRET_KEY is the development default",
        "SQLite",
        "CORS_ORIGINS contains '*'",
        "DEBUG is on",
        "TRUSTED_HOSTS allows any host",
        "JWT_PRIVATE_KEY is not set",
        "EMAIL_TRANSPORT must be smtp",
        "PUBLIC_BASE_URL must be an https",
        "REDIS_URL is not set",
        "FORWARDED_ALLOW_IPS trusts any address",
        "METRICS_TOKEN is not set",
        "SMTP without TLS",
    ]
    for fragment in expected:
        assert sum(fragment in line for line in text.splitlines()) == 1, fragment
    assert len(caught.value.problems) == len(expected)
    assert "Traceback" not in text


@pytest.mark.parametrize(
    "choice",
    [
        {"metrics_token": None, "metrics_public": True},
        {"metrics_token": None, "metrics_enabled": False},
        {"smtp_starttls": False, "smtp_use_tls": True},
        {"smtp_starttls": False, "smtp_allow_plaintext": True},
        {"workers": 4},
        {"forwarded_allow_ips": "10.0.0.2,10.0.0.0/8,fd00::/8"},
    ],
)
def test_production_accepts_explicit_choices(choice: dict[str, object]) -> None:
    assert load_settings(**{**SAFE_PROD, **choice}).app_env == "prod"


@pytest.mark.parametrize("env", ["dev", "test"])
def test_several_workers_need_redis_in_every_environment(env: str) -> None:
    """Each worker would keep its own revocations, rate limits and throttles otherwise."""
    with pytest.raises(SettingsError) as caught:
        load_settings(app_env=env, workers=2)
    assert caught.value.problems == [
        "WORKERS is 2 but REDIS_URL is not set: sign-outs, rate limits and sign-in throttles "
        "would each be kept per worker process (set REDIS_URL, or serve one worker)"
    ]
    assert load_settings(app_env=env, workers=2, redis_url="redis://127.0.0.1:6379/0").workers == 2


def test_serve_refuses_several_workers_from_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("WORKERS", raising=False)
    # Should the check ever let it through, uvicorn fails to bind this taken port and exits
    # (status 1) rather than serving for the rest of the run.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = CliRunner().invoke(cli, ["serve", "--workers", "2", "--port", port])
    assert result.exit_code == 2
    assert "refuses to start" in result.output
    assert "WORKERS is 2 but REDIS_URL is not set" in result.output


def test_type_errors_are_readable_too() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(port="not-a-port", request_timeout_seconds=-1)
    assert any(problem.startswith("PORT:") for problem in caught.value.problems)
    assert any(problem.startswith("REQUEST_TIMEOUT_SECONDS:") for problem in caught.value.problems)


def test_dev_accepts_development_defaults() -> None:
    settings = load_settings(app_env="dev")
    assert settings.effective_docs_enabled is True
    assert settings.database_backend == "sqlite"


def test_docs_can_be_turned_on_in_production() -> None:
    assert load_settings(**SAFE_PROD, docs_enabled=True).effective_docs_enabled is True


def test_environment_variables_are_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("CORS_ORIGINS", "https://a.test, https://b.test")
    settings = load_settings(app_env="test")
    assert settings.port == 9123
    assert settings.cors_origins == ["https://a.test", "https://b.test"]


def test_dotenv_is_read_in_dev_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PORT=9555\n")
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.setenv("APP_ENV", "dev")
    assert load_settings().port == 9555
    monkeypatch.setenv("APP_ENV", "test")
    assert load_settings().port == 8000


def test_secrets_directory_supplies_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s" * 40
    (tmp_path / "secret_key").write_text(secret)
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    settings = load_settings(app_env="test")
    assert settings.secret_key.get_secret_value() == secret


def test_check_config_prints_redacted_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("SECRET_KEY", "super-secret-value-that-must-not-print-1234")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://invoicer:hunter2hunter2@db/invoicer")
    result = CliRunner().invoke(cli, ["check-config"])
    assert result.exit_code == 0, result.output
    assert "super-secret-value" not in result.output
    assert "hunter2" not in result.output
    assert '"secret_key": "**********"' in result.output
    assert "postgresql+asyncpg://invoicer:***@db/invoicer" in result.output


def test_check_config_exits_2_with_the_problem_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "prod")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    result = CliRunner().invoke(cli, ["check-config"])
    assert result.exit_code == 2
    assert "SECRET_KEY is the development default" in result.output


ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_env_example_documents_every_setting() -> None:
    example = ENV_EXAMPLE.read_text()
    undocumented = [name for name in Settings.model_fields if f"{name.upper()}=" not in example]
    assert undocumented == []


def test_env_example_works_as_a_dev_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(ENV_EXAMPLE.read_text())
    monkeypatch.setenv("APP_ENV", "dev")
    settings = load_settings()
    assert settings.redis_url is None
    assert settings.cors_origins == []
    assert settings.trusted_hosts == ["*"]
    assert settings.port == 8000


ANY_IPV4 = "0.0.0.0"  # noqa: S104 (a value to render, nothing binds to it)


@pytest.mark.parametrize(
    ("host", "port", "links"),
    [
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("127.0.0.1", 9123, "http://127.0.0.1:9123"),
        (ANY_IPV4, 9123, "http://127.0.0.1:9123"),  # every IPv4 address, loopback included
        ("::", 9123, "http://localhost:9123"),  # IPv6, and IPv4 where the system allows
        ("::1", 9123, "http://[::1]:9123"),
        ("10.0.0.5", 80, "http://10.0.0.5"),
        ("invoicer.internal", 8080, "http://invoicer.internal:8080"),
    ],
)
def test_emailed_links_point_at_the_served_address_by_default(host: str, port: int, links: str) -> None:
    assert load_settings(app_env="test", host=host, port=port).public_base_url == links
    explicit = load_settings(app_env="test", host=host, port=port, public_base_url="https://app.test")
    assert explicit.public_base_url == "https://app.test"


def test_emailed_links_follow_host_and_port_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST", ANY_IPV4)
    monkeypatch.setenv("PORT", "9124")
    monkeypatch.setenv("PUBLIC_BASE_URL", "")  # an empty value in an env file means unset
    assert load_settings(app_env="test").public_base_url == "http://127.0.0.1:9124"


def test_production_says_when_the_link_base_was_left_unset() -> None:
    unset = {name: value for name, value in SAFE_PROD.items() if name != "public_base_url"}
    with pytest.raises(SettingsError) as caught:
        load_settings(**unset, port=8443)
    assert caught.value.problems == [
        "PUBLIC_BASE_URL must be an https:// URL (unset, emailed links would point at http://127.0.0.1:8443)"
    ]


def test_serve_options_reach_the_workers_link_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers load their settings from the environment: --host/--port must get there too."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}")
    # Set here (not deleted) so that what the command exports is undone after the test.
    for name, value in {"APP_ENV": "test", "HOST": "127.0.0.2", "PORT": "1", "WORKERS": "1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PUBLIC_BASE_URL", "")  # unset
    monkeypatch.delenv("REDIS_URL", raising=False)
    # The port is taken, so uvicorn fails to bind it and exits rather than serving.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--host", "127.0.0.1", "--port", str(port)])
    assert result.exit_code != 0
    assert "address already in use" in result.output
    assert (os.environ["HOST"], os.environ["PORT"]) == ("127.0.0.1", str(port))
    assert load_settings().public_base_url == f"http://127.0.0.1:{port}"


def test_hash_concurrency_shares_the_cores_among_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """N workers on N cores: one hash at a time each, not N each (N x N x 64 MiB at once)."""
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.delenv("PASSWORD_HASH_CONCURRENCY", raising=False)
    redis = {"redis_url": "redis://127.0.0.1:6379/0"}  # several workers need it
    assert load_settings(app_env="test").effective_password_hash_concurrency == 8
    assert load_settings(app_env="test", workers=4, **redis).effective_password_hash_concurrency == 2
    assert load_settings(app_env="test", workers=16, **redis).effective_password_hash_concurrency == 1
    explicit = load_settings(app_env="test", workers=4, password_hash_concurrency=3, **redis)
    assert explicit.effective_password_hash_concurrency == 3
