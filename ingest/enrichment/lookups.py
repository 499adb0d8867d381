"""What the enrichment providers share: the clock their lookups are stamped with, and how long
a track no provider knew waits before it is asked again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

LOOKUP_AGAIN_AFTER = timedelta(days=30)


def now() -> datetime:
    """Naive UTC, as every timestamp in the warehouse."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
