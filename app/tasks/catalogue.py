"""Imports every task module, so each registers its tasks (app/tasks/registry.py)."""

from app.tasks import emails, maintenance, webhooks

TASK_MODULES = (emails, maintenance, webhooks)
