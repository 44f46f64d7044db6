"""Imports every task module, so each registers its tasks (app/tasks/registry.py)."""

from app.tasks import emails, webhooks

TASK_MODULES = (emails, webhooks)
