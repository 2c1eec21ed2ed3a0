"""The one way Lambda code here writes a time: ISO 8601 in UTC, ending in `Z`."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def iso(epoch: float | None = None, *, timespec: str = "milliseconds") -> str:
    """`epoch` (seconds; now when None) as `2026-11-22T10:00:00.000Z`; `timespec="seconds"` drops the fraction."""
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC)
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")
