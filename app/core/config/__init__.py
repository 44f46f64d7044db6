"""Settings: one `Settings` object per process, built by `load_settings()`."""

from app.core.config.loader import SettingsError, load_settings, redacted_settings
from app.core.config.settings import AppEnv, Settings

__all__ = ["AppEnv", "Settings", "SettingsError", "load_settings", "redacted_settings"]
