"""Test helpers: a real SMTP sink, account helpers."""
