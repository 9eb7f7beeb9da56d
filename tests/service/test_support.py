"""What the service tests share: a `Billing` on each store, store snapshots, a recording publisher.

(A module of helpers; its one test checks that the snapshot sees every kind of change.)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

import pytest

from minutebill._unit_of_work import UnitOfWork
from minutebill.adapters.memory import MemoryStore
from minutebill.adapters.sqlite import SqliteStore
from minutebill.catalog import Catalog
from minutebill.domain.events import DomainEvent
from minutebill.domain.money import Money
from minutebill.domain.payment_status import PaymentStatus
from minutebill.ports import EventPublisher
from minutebill.testing.fakes import Outcome
from minutebill.testing.stateful import (
    ACCOUNTS,
    UPI,
    BillingRig,
    reference_catalog,
    store_contents,
)

STORES = ["memory", "sqlite"]
ACCOUNT = "acct-1"


@contextmanager
def open_store(kind: str, folder: Path) -> Iterator[Callable[[], UnitOfWork]]:
    """A fresh store of `kind` (``memory`` or ``sqlite``, a file in `folder`)."""
    if kind == "memory":
        yield MemoryStore().unit_of_work
        return
    store = SqliteStore(folder / "billing.db")
    try:
        yield store.unit_of_work
    finally:
        store.close()


@contextmanager
def open_rig(
    kind: str, folder: Path, *, publisher: EventPublisher | None = None, **options: Any
) -> Iterator[BillingRig]:
    """A `BillingRig` on a fresh store of `kind` (`options` go to `BillingRig.build`)."""
    with open_store(kind, folder) as uow_factory:
        yield BillingRig.build(uow_factory, publisher=publisher, **options)


def snapshot(rig: BillingRig, *accounts: str) -> dict[str, Any]:
    """Everything the rig's store holds for the accounts (default: ACCOUNT and the kit's)."""
    return store_contents(rig.uow_factory, accounts or (ACCOUNT, "ghost", *ACCOUNTS))


def settle_minutes(rig: BillingRig, account: str, *minutes: int) -> None:
    """End one call per entry, each lasting that many whole minutes, a minute apart."""
    for index, length in enumerate(minutes):
        rig.billing.end_call(account, f"bulk-{index}", timedelta(minutes=length))
        rig.clock.advance(timedelta(minutes=1))


def inr(amount: str | int) -> Money:
    """Rupees."""
    return Money(amount, "INR")


def top_up(rig: BillingRig, account: str, rupees: int, key: str) -> None:
    """Put money in the wallet (the fake gateway captures at once)."""
    rig.gateway.script(Outcome.SUCCEED)
    rig.billing.top_up(account, Money(rupees, "INR"), UPI, idempotency_key=key)


def capture_later(rig: BillingRig, payment_id: str) -> None:
    """The gateway captures an open payment now (its webhooks queue up)."""
    with rig.uow_factory() as uow:
        payment = uow.payments.by_reference(payment_id)
    assert payment is not None
    assert isinstance(payment.gateway_payment_id, str)
    rig.gateway.move(payment.gateway_payment_id, PaymentStatus.SUCCEEDED)


class RecordingPublisher:
    """An `EventPublisher` that keeps every batch it was given."""

    def __init__(self) -> None:
        self.batches: list[list[DomainEvent]] = []

    def publish(self, events: Sequence[DomainEvent]) -> None:
        self.batches.append(list(events))

    @property
    def events(self) -> list[DomainEvent]:
        return [event for batch in self.batches for event in batch]


class FailingCommits:
    """A unit-of-work factory whose next `failures` commits roll back and raise `error`.

    Stands in for a conflict or a driver failure at the worst moment: after the use case did
    all its work, at commit. With ``alternate=True`` it refuses every commit that follows a
    successful one instead, so every unit of work conflicts once and succeeds on its retry.
    """

    def __init__(
        self,
        inner: Callable[[], UnitOfWork],
        failures: int,
        error: Exception,
        *,
        alternate: bool = False,
    ) -> None:
        self.inner = inner
        self.failures = failures
        self.error = error
        self.alternate = alternate
        self.commits_refused = 0
        self.commits_made = 0

    def refuse_next(self) -> bool:
        if self.alternate:
            return self.commits_made + 1 > self.commits_refused
        return self.failures > 0

    def __call__(self) -> UnitOfWork:
        return cast("UnitOfWork", _Refusing(self, self.inner()))


class _Refusing:
    def __init__(self, owner: FailingCommits, inner: UnitOfWork) -> None:
        self._owner = owner
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> list[DomainEvent]:
        owner = self._owner
        if owner.refuse_next():
            owner.failures -= 1
            owner.commits_refused += 1
            self._inner.rollback()
            raise owner.error
        events = self._inner.commit()
        owner.commits_made += 1
        return events


@pytest.mark.parametrize("kind", STORES)
def test_the_snapshot_sees_every_kind_of_change(kind: str, tmp_path: Path) -> None:
    with open_rig(kind, tmp_path) as rig:
        seen = [snapshot(rig)]
        rig.billing.subscribe(ACCOUNT, "pro")
        seen.append(snapshot(rig))
        rig.billing.start_call(ACCOUNT, "c1")
        seen.append(snapshot(rig))
        rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=42))
        seen.append(snapshot(rig))
        top_up(rig, ACCOUNT, 100, "t1")
        seen.append(snapshot(rig))
        rig.billing.acquire_number(ACCOUNT, "in-local", "+919800000001", UPI, idempotency_key="n1")
        seen.append(snapshot(rig))
        rig.billing.set_auto_pay(ACCOUNT, "+919800000001", False)
        seen.append(snapshot(rig))
    assert all(a != b for a, b in itertools.pairwise(seen))


def test_the_kits_reference_catalog_is_the_example_catalog() -> None:
    shipped = reference_catalog()
    example = Catalog.from_file(Path(__file__).parents[2] / "examples" / "catalog.toml")
    assert shipped.plans == example.plans
    assert shipped.bundles == example.bundles
    assert shipped.number_offers == example.number_offers
