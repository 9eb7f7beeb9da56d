"""Calls on the wallet on PostgreSQL: the money a hold keeps is stored with it.

Two app servers share one account: a call one of them starts keeps its wallet money in the
ledger's document, so a call the other starts cannot count on the same money.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from minutebill.adapters.postgres import PostgresStore
from minutebill.domain.admission import Admitted, Rejected, RejectionReason
from minutebill.domain.money import Money
from minutebill.service import Billing
from minutebill.testing.fakes import FakePaymentGateway, FixedClock, Outcome
from minutebill.testing.stateful import UPI, reference_catalog

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def test_a_call_started_on_one_server_keeps_its_money_from_a_call_on_another(
    pg_dsn: str, pg_schema: str
) -> None:
    clock = FixedClock(T0)
    gateway = FakePaymentGateway(secret=b"whsec-wallet", clock=clock)
    with (
        PostgresStore(pg_dsn, schema=pg_schema, max_size=2) as one,
        PostgresStore(pg_dsn, schema=pg_schema, max_size=2) as other,
    ):
        first = Billing(one.unit_of_work, gateway, reference_catalog(), clock)
        second = Billing(other.unit_of_work, gateway, reference_catalog(), clock)
        first.subscribe("acct-1", "pro")
        first.end_call("acct-1", "c0", timedelta(minutes=5000))  # Pro's minutes are gone
        gateway.script(Outcome.SUCCEED)
        first.top_up("acct-1", Money(15, "INR"), UPI, idempotency_key="t1")

        started = first.start_call("acct-1", "c1", max_seconds=3600)
        refused = second.start_call("acct-1", "c2", max_seconds=3600)

        assert isinstance(started, Admitted)
        hold = started.reservation
        assert (hold.max_seconds, hold.funds) == (600, Money(15, "INR"))
        assert refused == Rejected(RejectionReason.NO_MINUTES)
        first.end_call("acct-1", "c1", timedelta(minutes=4))  # INR 6 paid, INR 9 free
        again = second.start_call("acct-1", "c2", max_seconds=3600)
        assert isinstance(again, Admitted)
        assert (again.reservation.max_seconds, again.reservation.funds) == (360, Money(9, "INR"))
