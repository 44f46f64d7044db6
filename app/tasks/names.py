"""Task names: what a broker message says to run. Renaming one strands messages in flight."""

SEND_EMAIL = "emails.send"
FAN_OUT_EVENT = "events.fan_out"
DELIVER_WEBHOOK = "webhooks.deliver"
# Periodic (app/tasks/maintenance.py).
SCAN_OVERDUE_INVOICES = "invoices.scan_overdue"
PURGE_IDEMPOTENCY_KEYS = "maintenance.purge_idempotency_keys"
PURGE_ONE_TIME_TOKENS = "maintenance.purge_one_time_tokens"
PURGE_FINISHED_JOBS = "maintenance.purge_finished_jobs"
PURGE_PERIODIC_RUNS = "maintenance.purge_periodic_runs"
