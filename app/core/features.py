"""Feature flags: what can be switched per organization, and what each switches.

Defaults come from settings (`FEATURE_DEFAULTS`); an operator overrides them per organization
(`invoicer set-feature`), in the `feature_flags` table. Tenant routes read them through the
`FeatureFlags` dependency (app/api/dependencies/features.py).
"""

from __future__ import annotations

from enum import StrEnum


class Feature(StrEnum):
    AUDIT_LOG = "audit_log"
    OVERDUE_REMINDERS = "overdue_reminders"


FEATURE_MEANINGS: dict[Feature, str] = {
    Feature.AUDIT_LOG: "members with audit:read may read the audit log (entries are recorded either way)",
    Feature.OVERDUE_REMINDERS: (
        "the daily overdue scan emails the customer a reminder, once per invoice, when an open "
        "invoice passes its due date (the `invoice.overdue` event is recorded either way)"
    ),
}

DEFAULTS: dict[Feature, bool] = {Feature.AUDIT_LOG: True, Feature.OVERDUE_REMINDERS: False}
