"""Tests that count in the shared Redis count for a client and accounts of their own.

Redis outlives a test run and is shared by every run on the machine (the suite never flushes
a database it did not create), so rate limits, attempt counts and mail quotas keyed by a fixed
address or email would carry over from earlier runs.
"""

from __future__ import annotations

import uuid


def own_client_address() -> tuple[str, int]:
    """A random 10.x.y.z client, for `make_client(client_address=...)`."""
    octets = uuid.uuid4().bytes[:3]
    return (f"10.{octets[0]}.{octets[1]}.{octets[2]}", 1)


def own_email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:12]}@example.com"
