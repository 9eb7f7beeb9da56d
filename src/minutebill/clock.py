"""`SystemClock`: the one place in minutebill that reads the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["SystemClock"]


class SystemClock:
    """A `Clock` that returns the real current time, aware and in UTC."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)
