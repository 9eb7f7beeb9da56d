"""Babel formatting shared by the command line and the views. The locale is always an argument."""

from __future__ import annotations

from babel.numbers import format_currency

from minutebill.domain.money import Money

__all__ = ["format_money"]


def format_money(money: Money, locale: str) -> str:
    """`money` in `locale`'s currency format: ``₹1,50,000.00`` for INR 150000 in ``en_IN``."""
    return format_currency(money.amount, money.currency, locale=locale)
