"""Plain-data views for a billing page, formatted with Babel; the locale is always an argument."""

from minutebill._formatting import format_money

__all__ = ["format_money"]
