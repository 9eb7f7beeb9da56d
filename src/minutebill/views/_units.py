"""Seconds as display minutes: the one conversion the overview, usage and chart share."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["CENT", "to_minutes"]

_MINUTE = Decimal(60)
CENT = Decimal("0.01")
"""Minutes and percentages are shown to two places."""


def to_minutes(seconds: int) -> Decimal:
    """Whole seconds as minutes, two places (the ledger counts seconds, pages show minutes)."""
    return (Decimal(seconds) / _MINUTE).quantize(CENT)
