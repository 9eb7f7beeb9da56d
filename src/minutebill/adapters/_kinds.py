"""The aggregate kinds minutebill's own stores keep, and how each is identified and indexed."""

from __future__ import annotations

from minutebill.adapters._documents import Kinds

__all__ = ["Kinds", "default_kinds"]


def default_kinds() -> Kinds:
    """minutebill's aggregates: ledgers, wallets, subscriptions, numbers, orders, payments."""
    raise NotImplementedError
