"""Seconds as display minutes: the one conversion the overview, usage and chart share."""

from __future__ import annotations

from decimal import Decimal

from minutebill.domain.ledger_policy import hundredths

__all__ = ["CENT", "to_minutes"]

CENT = Decimal("0.01")
"""Minutes and percentages are shown to two places."""


def to_minutes(seconds: int) -> Decimal:
    """Whole seconds as minutes, two places (the ledger counts seconds, pages show minutes).

    The same exact integer rounding (half-up) as the ledger's own minute figures, so no
    ambient `decimal` context changes it.
    """
    return hundredths(seconds, 60)
