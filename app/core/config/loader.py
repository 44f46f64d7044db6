"""Build `Settings` from the process environment, and explain failures in one message."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from app.core.config.settings import Settings

DEFAULT_SECRETS_DIR = Path("/run/secrets")
DEV_ENV_FILE = Path(".env")


class SettingsError(Exception):
    """Settings that cannot be used; `str()` is a readable list of every problem."""

    def __init__(self, problems: list[str], app_env: str) -> None:
        self.problems = problems
        lines = [f"Invoicer refuses to start with these settings (APP_ENV={app_env}):"]
        lines += [f"  - {problem}" for problem in problems]
        super().__init__("\n".join(lines))


def load_settings(**overrides: Any) -> Settings:
    """Environment variables first; `.env` only in dev; files in a secrets directory.

    Raises `SettingsError` listing every problem at once rather than the first traceback.
    """
    app_env = str(overrides.get("app_env") or os.environ.get("APP_ENV", "dev")).lower()
    secrets_dir = Path(os.environ.get("SECRETS_DIR", str(DEFAULT_SECRETS_DIR)))
    env_file = DEV_ENV_FILE if app_env == "dev" and DEV_ENV_FILE.is_file() else None
    try:
        settings = Settings(
            _env_file=env_file,
            _secrets_dir=secrets_dir if secrets_dir.is_dir() else None,
            **overrides,
        )
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']).upper() or 'settings'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise SettingsError(problems, app_env) from None
    problems = settings.check_for_environment()
    if problems:
        raise SettingsError(problems, settings.app_env)
    return settings


def redacted_settings(settings: Settings) -> dict[str, Any]:
    """Effective settings for display: secrets masked, passwords in URLs hidden."""
    shown: dict[str, Any] = {}
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            shown[name] = "**********" if value.get_secret_value() else ""
        elif isinstance(value, str) and "://" in value:
            shown[name] = _hide_url_password(value)
        else:
            shown[name] = value
    shown["effective_docs_enabled"] = settings.effective_docs_enabled
    shown["effective_log_format"] = settings.effective_log_format
    shown["effective_password_hash_concurrency"] = settings.effective_password_hash_concurrency
    return shown


def _hide_url_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
