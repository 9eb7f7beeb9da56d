"""`PostgresStore` passes the `UnitOfWorkContract` every store passes, on a real server.

And keeps its own promise: a call settles in one round trip on an account the store committed
last, in two otherwise, counted in the libpq trace.
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


def test_a_call_settles_in_one_round_trip_on_an_account_this_store_committed_last(
    one_connection: PostgresStore,
) -> None:
    clock = FixedClock(T0)
    gateway = FakePaymentGateway(secret=b"whsec-trips", clock=clock)
    billing = Billing(one_connection.unit_of_work, gateway, reference_catalog(), clock)
    billing.subscribe("acct-1", "enterprise", timezone="Asia/Kolkata")
    billing.subscribe("acct-2", "pro", timezone="UTC")
    gateway.script(Outcome.SUCCEED)
    billing.top_up("acct-2", Money("900.00", "INR"), UPI, idempotency_key="t1")
    billing.end_call("acct-2", "use-it-up", timedelta(minutes=5000))  # pro's minutes are gone

    # The account's documents come from the store; the one message locks and checks them,
    # writes and commits. A fresh service looks the time zone up in the same documents.
    fresh = Billing(one_connection.unit_of_work, gateway, reference_catalog(), clock)
    assert round_trips(one_connection, lambda: fresh.end_call("acct-1", "c1", MINUTE)) == 1
    assert round_trips(one_connection, lambda: fresh.end_call("acct-1", "c2", MINUTE)) == 1
    # Overage charged to the wallet: the wallet is one of the account's documents.
    record = billing.end_call("acct-2", "over", MINUTE)
    assert record.overage_seconds == 60
    trips = round_trips(one_connection, lambda: billing.end_call("acct-2", "over-2", MINUTE))
    assert trips == 1
    with one_connection.unit_of_work() as uow:
        assert uow.wallets.get("acct-2").balance == Money("897.00", "INR")  # 2 x 1.50


def test_a_call_settles_in_two_round_trips_when_the_store_keeps_no_account(
    pg_dsn: str, pg_schema: str
) -> None:
    """Without the cache: the locked read, then the writes with COMMIT."""
    with PostgresStore(pg_dsn, schema=pg_schema, max_size=1, cached_accounts=0) as store:
        clock = FixedClock(T0)
        gateway = FakePaymentGateway(secret=b"whsec-trips", clock=clock)
        billing = Billing(store.unit_of_work, gateway, reference_catalog(), clock)
        billing.subscribe("acct-1", "enterprise", timezone="Asia/Kolkata")
        billing.end_call("acct-1", "c1", MINUTE)

        assert round_trips(store, lambda: billing.end_call("acct-1", "c2", MINUTE)) == 2
