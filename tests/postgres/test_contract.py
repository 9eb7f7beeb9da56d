"""`PostgresStore` passes the `UnitOfWorkContract` every store passes, on a real server.

And keeps its own promise: a call settles in two round trips, counted in the libpq trace.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from minutebill._unit_of_work import UnitOfWork
from minutebill.adapters.postgres import PostgresStore
from minutebill.domain.money import Money
from minutebill.service import Billing
from minutebill.testing.fakes import FakePaymentGateway, FixedClock, Outcome
from minutebill.testing.stateful import UPI, reference_catalog
from minutebill.testing.uow_contract import UnitOfWorkContract
from tests.postgres._trace import traced

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
MINUTE = timedelta(seconds=60)


class TestPostgresStore(UnitOfWorkContract):
    @pytest.fixture
    def uow_factory(self, pg_store: PostgresStore) -> Callable[[], UnitOfWork]:
        return pg_store.unit_of_work


# --- beyond the contract: what this adapter promises ---------------------------------------


def round_trips(store: PostgresStore, action: Callable[[], object]) -> int:
    """Request/response turns `action` makes on the store's only connection (libpq trace)."""
    directions = [line.split("\t", 1)[0] for line in traced(store, action)]
    return sum(1 for sent, got in itertools.pairwise(directions) if (sent, got) == ("F", "B"))


def test_a_call_settles_in_two_round_trips(one_connection: PostgresStore) -> None:
    clock = FixedClock(T0)
    gateway = FakePaymentGateway(secret=b"whsec-trips", clock=clock)
    billing = Billing(one_connection.unit_of_work, gateway, reference_catalog(), clock)
    billing.subscribe("acct-1", "enterprise", timezone="Asia/Kolkata")
    billing.subscribe("acct-2", "pro", timezone="UTC")
    gateway.script(Outcome.SUCCEED)
    billing.top_up("acct-2", Money("900.00", "INR"), UPI, idempotency_key="t1")
    billing.end_call("acct-2", "use-it-up", timedelta(minutes=5000))  # pro's minutes are gone

    # The first call of a fresh service also looks up the account's time zone.
    fresh = Billing(one_connection.unit_of_work, gateway, reference_catalog(), clock)
    assert round_trips(one_connection, lambda: fresh.end_call("acct-1", "c1", MINUTE)) == 2
    assert round_trips(one_connection, lambda: fresh.end_call("acct-1", "c2", MINUTE)) == 2
    # Overage charged to the wallet: ledger, subscription and wallet come in the first trip.
    record = billing.end_call("acct-2", "over", MINUTE)  # warm the time-zone cache
    assert record.overage_seconds == 60
    trips = round_trips(one_connection, lambda: billing.end_call("acct-2", "over-2", MINUTE))
    assert trips == 2
    with one_connection.unit_of_work() as uow:
        assert uow.wallets.get("acct-2").balance == Money("897.00", "INR")  # 2 x 1.50
