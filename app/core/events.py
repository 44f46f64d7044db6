"""The event types: every state change the product announces, named `<object>.<change>`.

One list for the whole product, including changes whose objects are not built yet, so that
the events table's CHECK constraint and the API's `type` filter need no migration or release
when invoices and payments arrive; a type no code records yet simply matches no event.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_UPDATED = "customer.updated"
    CUSTOMER_DELETED = "customer.deleted"
    INVOICE_CREATED = "invoice.created"
    INVOICE_UPDATED = "invoice.updated"
    INVOICE_FINALIZED = "invoice.finalized"
    INVOICE_VOIDED = "invoice.voided"
    INVOICE_PAID = "invoice.paid"
    INVOICE_OVERDUE = "invoice.overdue"
    INVOICE_SENT = "invoice.sent"
    INVOICE_DELETED = "invoice.deleted"
    PAYMENT_CREATED = "payment.created"

    @property
    def object_type(self) -> str:
        """The kind of object the event is about (`customer`), as the audit log names targets."""
        return self.value.split(".", 1)[0]
