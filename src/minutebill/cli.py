"""The ``python -m minutebill`` command line.

``catalog FILE [--locale L]`` prints a catalog: plans with their features, add-on bundles and
number offers, prices formatted with Babel for the locale (default ``en_IN``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from babel import Locale, UnknownLocaleError
from babel.numbers import format_decimal

from minutebill._formatting import format_money
from minutebill.catalog import Catalog
from minutebill.errors import MinutebillError

__all__ = ["main"]


def _locale(value: str) -> str:
    try:
        Locale.parse(value)
    except (UnknownLocaleError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"unknown locale {value!r}") from exc
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one sub-command per job."""
    parser = argparse.ArgumentParser(prog="python -m minutebill", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    catalog = commands.add_parser("catalog", help="print a catalog file")
    catalog.add_argument("file", help="a catalog file (.toml or .json)")
    catalog.add_argument("--locale", type=_locale, default="en_IN", help="default: en_IN")
    return parser


def print_catalog(catalog: Catalog, locale: str, out: TextIO) -> None:
    """Write a readable listing of `catalog` to `out`."""
    out.write("Plans\n")
    for plan in catalog.plans:
        f = plan.features
        every = "month" if plan.interval.months == 1 else f"{plan.interval.months} months"
        out.write(
            f"  {plan.name} ({plan.code}): {format_money(plan.price, locale)} / {every}, "
            f"{format_decimal(plan.included_minutes, locale=locale)} minutes\n"
            f"    concurrent calls {f.concurrent_calls}, phone numbers {f.phone_numbers}, "
            f"queue priority {f.queue_priority}, rating {f.rating}, "
            f"overage {f.overage.mode.value}\n"
        )
    out.write("Add-on bundles\n")
    for bundle in catalog.bundles:
        validity = bundle.validity.kind.value
        if bundle.validity.days is not None:
            validity = f"{bundle.validity.days} days"
        out.write(
            f"  {bundle.name} ({bundle.code}): "
            f"{format_decimal(bundle.minutes, locale=locale)} minutes for "
            f"{format_money(bundle.price, locale)}, valid {validity}\n"
        )
    out.write("Number offers\n")
    for offer in catalog.number_offers:
        caps = ", ".join(sorted(c.value.upper() for c in offer.capabilities))
        out.write(
            f"  {offer.country} {offer.kind} ({offer.code}) [{caps}]: "
            f"{format_money(offer.monthly_fee, locale)} / month + "
            f"{format_money(offer.upfront_fee, locale)} up front\n"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "catalog":
            print_catalog(Catalog.from_file(args.file), args.locale, sys.stdout)
    except MinutebillError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
