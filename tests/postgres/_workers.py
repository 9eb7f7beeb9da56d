"""Module-level work for the spawned processes of the PostgreSQL concurrency tests.

Each function runs in a worker process of a ``spawn`` pool: it opens its own `PostgresStore`
on the test's schema, waits at the shared barrier so that all workers start together, does
its share, and returns plain data (acknowledged call ids, answers, errors) for the test to
check against the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from minutebill.adapters import StoredDocument, Transaction, WriteBatch
from minutebill.adapters._postgres_sql import Shape, literal
from minutebill.adapters.postgres import PostgresStore, _PostgresTransaction
from minutebill.catalog import Catalog
from minutebill.domain.money import Money
from minutebill.domain.payment_methods import Upi
from minutebill.errors import MinutebillError
from minutebill.service import Billing
from minutebill.testing.fakes import FakePaymentGateway, FixedClock

__all__ = [
    "TINY_CATALOG",
    "NaiveStore",
    "deliver_webhooks",
    "install_barrier",
    "ready",
    "run_due_repeatedly",
    "settle_calls",
    "top_up_repeatedly",
]

SECRET = b"whsec-minutebill-pg-tests"
UPI = Upi("asha@okaxis")
CATALOG_FILE = Path(__file__).resolve().parents[2] / "examples" / "catalog.toml"
BARRIER_TIMEOUT = 120.0

TINY_CATALOG: dict[str, Any] = {
    "currency": "INR",
    "plans": [
        {
            "code": "tiny",
            "name": "Tiny",
            "price": "100.00",
            "interval_months": 1,
            "included_minutes": 10,
            "concurrent_calls": 10,
            "phone_numbers": 1,
            "queue_priority": 0,
            "rating": "60/60",
            "overage": {"mode": "charge_wallet", "rate_per_minute": "1.00"},
        }
    ],
    "bundles": [],
    "number_offers": [],
}
"""A plan of ten minutes whose overage is charged to the wallet: settlements, top-ups and the
renewal all touch the same wallet and ledger."""

_barrier: list[Any] = []  # this process's barrier, set by the pool initializer


def install_barrier(barrier: Any) -> None:
    """Pool initializer: keep the barrier every task waits at before it starts."""
    _barrier[:] = [barrier]


def _start_together() -> None:
    for barrier in _barrier:
        barrier.wait(BARRIER_TIMEOUT)


def ready() -> bool:
    """A task that only meets the others at the barrier (warms the pool up)."""
    _start_together()
    return True


class _NaiveTransaction(_PostgresTransaction):
    """The lost-update bug on purpose: reads without a lock, writes without a version check."""

    def load(self, kind: str, account_id: str, key: str) -> StoredDocument | None:
        result = self._send(
            "SELECT account_id, key, version, state FROM minutebill_documents"  # noqa: S608
            f" WHERE account_id = {literal(account_id)} AND kind = {literal(kind)}"
            f" AND key = {literal(key)}"
        )
        if not result.ntuples:
            return None
        account, found, version, state = (result.get_value(0, n) or b"" for n in range(4))
        return StoredDocument(account.decode(), found.decode(), int(version), state.decode())

    def _commit_message(self, batch: WriteBatch) -> tuple[str, Shape | None]:
        naive = [
            "UPDATE minutebill_documents SET version = version + 1,"  # noqa: S608
            f" state = {literal(w.state)} WHERE account_id = {literal(w.account_id)}"
            f" AND kind = {literal(w.kind)} AND key = {literal(w.key)}"
            for w in batch.documents
            if w.expected_version is not None
        ]
        rest = WriteBatch(
            documents=[w for w in batch.documents if w.expected_version is None],
            usage=batch.usage,
            outbox=batch.outbox,
            idempotency=batch.idempotency,
        )
        message, prepares = super()._commit_message(rest)
        return ";".join([*naive, message]), prepares


class NaiveStore(PostgresStore):
    """A `PostgresStore` with the naive transaction: the checker must catch what it loses."""

    def _transaction(self, *, read_only: bool, optimistic: bool = False) -> Transaction:
        return _NaiveTransaction(
            self._pool,
            self._sessions,
            self._account_kinds,
            self._accounts,
            read_only=read_only,
            outbox=self._outbox,
        )


@contextmanager
def _billing(
    dsn: str, schema: str, at: datetime, *, naive: bool = False, tiny: bool = False
) -> Iterator[Billing]:
    kind = NaiveStore if naive else PostgresStore
    store = kind(dsn, schema=schema, min_size=1, max_size=1, auto_migrate=False)
    clock = FixedClock(at)
    catalog = Catalog.from_mapping(TINY_CATALOG) if tiny else Catalog.from_file(CATALOG_FILE)
    try:
        yield Billing(
            store.unit_of_work, FakePaymentGateway(secret=SECRET, clock=clock), catalog, clock
        )
    finally:
        store.close()


def settle_calls(
    dsn: str,
    schema: str,
    account_ids: Sequence[str],
    prefix: str,
    count: int,
    at: datetime,
    *,
    seconds: int = 30,
    naive: bool = False,
    tiny: bool = False,
) -> dict[str, Any]:
    """End `count` calls, round robin over `account_ids`; report the acknowledged ones."""
    acknowledged: dict[str, list[str]] = {account: [] for account in account_ids}
    errors: list[str] = []
    duration = timedelta(seconds=seconds)
    with _billing(dsn, schema, at, naive=naive, tiny=tiny) as billing:
        _start_together()
        for n in range(count):
            account = account_ids[n % len(account_ids)]
            call_id = f"{prefix}-{n}"
            try:
                billing.end_call(account, call_id, duration, tags=("load",))
            except MinutebillError as exc:
                errors.append(f"{call_id}: {type(exc).__name__}: {exc}")
            else:
                acknowledged[account].append(call_id)
    return {"acknowledged": acknowledged, "errors": errors}


def top_up_repeatedly(
    dsn: str, schema: str, account_ids: Sequence[str], count: int, rupees: int, at: datetime
) -> dict[str, Any]:
    """Top up each account `count` times (each request sent twice, as a client retry would)."""
    credited: dict[str, int] = dict.fromkeys(account_ids, 0)
    errors: list[str] = []
    with _billing(dsn, schema, at, tiny=True) as billing:
        _start_together()
        for n in range(count):
            for account in account_ids:
                for _ in range(2):
                    try:
                        result = billing.top_up(
                            account,
                            Money(rupees, "INR"),
                            UPI,
                            idempotency_key=f"top-up-{account}-{n}",
                        )
                    except MinutebillError as exc:
                        errors.append(f"top-up-{account}-{n}: {type(exc).__name__}: {exc}")
                        continue
                    if not result.payment.fulfilled:
                        errors.append(f"top-up-{account}-{n}: not fulfilled: {result.payment}")
                credited[account] += rupees
    return {"credited": credited, "errors": errors}


def run_due_repeatedly(dsn: str, schema: str, times: int, at: datetime) -> dict[str, Any]:
    """Run the due work for `at` again and again (renewals race the other workers)."""
    counts: dict[str, int] = {}
    failures: list[str] = []
    with _billing(dsn, schema, at, tiny=True) as billing:
        _start_together()
        for _ in range(times):
            report = billing.run_due(at, batch_size=10)
            for action, n in report.counts.items():
                counts[action] = counts.get(action, 0) + n
            failures.extend(f"{item}: {why}" for item, why in report.failures)
    return {"counts": counts, "failures": failures}


def deliver_webhooks(
    dsn: str, schema: str, webhooks: Sequence[tuple[bytes, dict[str, str]]], at: datetime
) -> dict[str, Any]:
    """Deliver each webhook (the same ones every worker delivers), in the order given."""
    answers: list[tuple[str, str, bool]] = []
    errors: list[str] = []
    with _billing(dsn, schema, at) as billing:
        _start_together()
        for body, headers in webhooks:
            try:
                result = billing.handle_gateway_event(body, headers)
            except MinutebillError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            else:
                answers.append((result.payment_id, result.status.value, result.fulfilled))
    return {"answers": answers, "errors": errors}
