"""The ``python -m minutebill`` command line.

``catalog FILE [--locale L]`` prints a catalog: plans with their features, add-on bundles and
number offers, prices formatted with Babel for the locale (default ``en_IN``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from babel import Locale, UnknownLocaleError

from minutebill._formatting import format_count, format_money
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
    demo = commands.add_parser("demo", help="run the demo account on a real store")
    where = demo.add_mutually_exclusive_group()
    where.add_argument(
        "--db", default="minutebill-demo.sqlite3", help="SQLite file (default: %(default)s)"
    )
    where.add_argument("--postgres", metavar="DSN", help="run on PostgreSQL instead")
    demo.add_argument("--catalog", help="catalog file (default: examples/catalog.toml)")
    demo.add_argument("--calls", type=int, default=300, help="calls to place (default: 300)")
    demo.add_argument("--locale", type=_locale, default="en_IN", help="default: en_IN")
    return parser


def _demo(args: argparse.Namespace) -> None:
    from minutebill.demo import default_catalog_path, run_demo

    catalog = Catalog.from_file(args.catalog or default_catalog_path())
    if args.postgres:
        from minutebill.adapters.postgres import PostgresStore

        with PostgresStore(args.postgres) as pg:
            run_demo(pg.unit_of_work, catalog, sys.stdout, store_name="PostgreSQL",
                     locale=args.locale, calls=args.calls)  # fmt: skip
        return
    from minutebill.adapters.sqlite import SqliteStore

    store = SqliteStore(args.db)
    try:
        run_demo(store.unit_of_work, catalog, sys.stdout, store_name=f"SQLite {args.db}",
                 locale=args.locale, calls=args.calls)  # fmt: skip
    finally:
        store.close()


def print_catalog(catalog: Catalog, locale: str, out: TextIO) -> None:
    """Write a readable listing of `catalog` to `out`."""
    out.write("Plans\n")
    for plan in catalog.plans:
        f = plan.features
        every = "month" if plan.interval.months == 1 else f"{plan.interval.months} months"
        out.write(
            f"  {plan.name} ({plan.code}): {format_money(plan.price, locale)} / {every}, "
            f"{format_count(plan.included_minutes, locale)} minutes\n"
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
            f"{format_count(bundle.minutes, locale)} minutes for "
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
        elif args.command == "demo":
            _demo(args)
    except MinutebillError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as exc:  # the system refused (a full disk for the output, say): no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
