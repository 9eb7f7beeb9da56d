"""Exactly once: concurrent duplicate webhooks fulfil once; due work run twice charges once.

"At once" here is real: threads released together by a barrier, against one SQLite file (one
`SqliteStore` shared, or one per thread as separate app servers would have) and against one
`MemoryStore` (where the losers of an optimistic-concurrency race retry).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from minutebill.adapters.memory import MemoryStore
from minutebill.adapters.sqlite import SqliteStore
from minutebill.domain.grants import GrantSource
from minutebill.domain.money import Money
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.wallet import Wallet
from minutebill.domain.wallet_entries import EntryKind
from minutebill.service import Billing
from minutebill.testing.fakes import Outcome, Webhook
from minutebill.testing.stateful import UPI, BillingRig
from tests.service.test_support import ACCOUNT, capture_later, top_up

COPIES = 5
PERIOD_END = datetime(2026, 2, 5, 9, tzinfo=UTC)
NUMBERS = ("+919800000001", "+919800000002")


@contextmanager
def services(kind: str, folder: Path, count: int) -> Iterator[list[BillingRig]]:
    """`count` rigs on one store sharing a clock: ``memory`` and ``sqlite-shared`` share one
    store object; ``sqlite-per-thread`` opens the file once per rig."""
    with ExitStack() as stack:
        if kind == "memory":
            shared = MemoryStore().unit_of_work
            factories = [shared] * count
        else:
            stores = [SqliteStore(folder / "billing.db", busy_timeout=60)]
            if kind == "sqlite-per-thread":
                stores += [SqliteStore(folder / "billing.db") for _ in range(count - 1)]
            for store in stores:
                stack.callback(store.close)
            factories = [stores[i % len(stores)].unit_of_work for i in range(count)]
        first = BillingRig.build(factories[0])
        rigs = [first] + [BillingRig.build(f, clock=first.clock) for f in factories[1:]]
        yield rigs


def all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, released together; re-raise the first failure.

    The interpreter switches threads every few microseconds meanwhile (instead of every 5 ms),
    so units of work really interleave between their reads and their commit.
    """
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        return _all_at_once(calls)
    finally:
        sys.setswitchinterval(interval)


def _all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def deliver(billing: Billing, hook: Webhook) -> Callable[[], Any]:
    return lambda: billing.handle_gateway_event(hook.body, hook.headers)


def succeeded_hooks(rig: BillingRig) -> list[Webhook]:
    hooks = rig.gateway.take_webhooks()
    return [h for h in hooks if h.event_type == "payment.succeeded"]


KINDS = ["sqlite-shared", "sqlite-per-thread", "memory"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_webhook_delivered_five_times_at_once_fulfils_once(kind: str, tmp_path: Path) -> None:
    with services(kind, tmp_path, 2 * COPIES) as rigs:
        main = rigs[0]
        main.billing.subscribe(ACCOUNT, "pro")
        main.gateway.script(Outcome.STAY_PENDING, Outcome.STAY_PENDING)
        bundle = main.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="b1")
        money = main.billing.top_up(ACCOUNT, Money(1000, "INR"), UPI, idempotency_key="t1")
        capture_later(main, bundle.payment.payment_id)
        capture_later(main, money.payment.payment_id)
        hooks = succeeded_hooks(main)
        assert len(hooks) == 2
        calls = [deliver(rig.billing, hooks[i % 2]) for i, rig in enumerate(rigs)]
        results = all_at_once(calls)
        assert {r.status for r in results} == {PaymentStatus.SUCCEEDED}
        assert all(r.fulfilled and r.complete for r in results)
        with main.uow_factory() as uow:
            ledger = uow.ledgers.get(ACCOUNT)
            wallet: Wallet = uow.wallets.get(ACCOUNT)
            outbox = [e.name for e in uow.outbox.since(0, limit=10_000)]
        assert [g.granted for g in ledger.grants() if g.source is GrantSource.BUNDLE] == [18_000]
        assert wallet.balance == Money(1000, "INR")
        assert [e.kind for e in wallet.entries] == [EntryKind.CREDIT]
        assert outbox.count("WalletCredited") == 1
        assert outbox.count("MinutesGranted") == 2  # the plan's, and the bundle's once
        assert main.billing.overview(ACCOUNT).total_minutes == Decimal(5300)


@pytest.mark.parametrize("kind", KINDS)
def test_due_work_run_twice_at_once_for_the_same_instant_charges_once(
    kind: str, tmp_path: Path
) -> None:
    with services(kind, tmp_path, 2) as rigs:
        main = rigs[0]
        main.billing.subscribe(ACCOUNT, "pro")
        top_up(main, ACCOUNT, 10_000, "t1")
        for index, number in enumerate(NUMBERS):
            main.billing.acquire_number(
                ACCOUNT, "in-local", number, UPI, idempotency_key=f"n{index}"
            )
        at = PERIOD_END + timedelta(hours=1)
        reports = all_at_once([partial(rig.billing.run_due, at) for rig in rigs])
        assert sum(r["plans_renewed"] for r in reports) == 1
        assert sum(r["numbers_renewed"] for r in reports) == len(NUMBERS)
        again = main.billing.run_due(at)
        assert (again["plans_renewed"], again["numbers_renewed"]) == (0, 0)
        with main.uow_factory() as uow:
            wallet: Wallet = uow.wallets.get(ACCOUNT)
        taken = [(e.reason, e.amount) for e in wallet.entries if e.kind is EntryKind.DEBIT]
        assert sorted(taken) == [
            ("number renewal", Money(500, "INR")),
            ("number renewal", Money(500, "INR")),
            ("plan renewal", Money(7999, "INR")),
        ]
        assert wallet.balance == Money(10_000 - 7999 - 1000, "INR")
