"""Task names: what a broker message says to run. Renaming one strands messages in flight."""

SEND_EMAIL = "emails.send"
FAN_OUT_EVENT = "events.fan_out"
DELIVER_WEBHOOK = "webhooks.deliver"
