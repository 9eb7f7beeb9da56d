"""Calls that run on the wallet's money: capped at what it pays for, and that money kept.

Under charge-the-wallet, a call without minutes enough for its whole length runs on overage
the wallet pays as it ends. Its hold says how long it may run (`Reservation.max_seconds`) and
keeps the money that pays for it (`Reservation.funds`), so no other call counts on it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill.domain.catalog import OveragePolicy
from minutebill.domain.grants import GrantSource
from minutebill.domain.ledger import LedgerPolicy, MinuteLedger
from minutebill.domain.money import Money
from minutebill.domain.overage_funds import OverageFunds, funded_length
from minutebill.domain.periods import BillingPeriod
from minutebill.domain.rating import BillingIncrement
from minutebill.domain.usage import Reservation
from minutebill.errors import InsufficientMinutes

T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)
PERIOD = BillingPeriod(T0, T0 + timedelta(days=31))
RATE = Money("1.50", "INR")  # a minute of overage
RATINGS = st.sampled_from(
    [
        BillingIncrement(60, 60),
        BillingIncrement(60, 6),
        BillingIncrement(6, 6),
        BillingIncrement(1, 1),
    ]
)


def inr(amount: str | int) -> Money:
    return Money(amount, "INR")


def priced(seconds: int) -> Money | None:
    """INR 1.50 a minute with 18 % tax on top, as the wallet pays it."""
    net = OveragePolicy.charge_wallet(RATE).charge_for(seconds)
    return None if net is None else (net * Decimal("1.18")).rounded()


def funds_of(amount: str | int) -> OverageFunds:
    return OverageFunds(available=lambda: inr(amount), price=priced)


def ledger_with(seconds: int) -> MinuteLedger:
    """A charge-the-wallet ledger rated 60/60 with `seconds` of plan minutes left."""
    ledger = MinuteLedger("acct-1", LedgerPolicy(overage=OveragePolicy.charge_wallet(RATE)))
    ledger.open_period(PERIOD, T0)
    if seconds:
        ledger.grant("plan", GrantSource.PLAN, seconds, T0, expires_at=PERIOD.end)
    ledger.pull_events()
    return ledger


@given(
    rating=RATINGS,
    held=st.integers(0, 600),
    requested=st.integers(1, 4 * 3600),
    cents=st.integers(0, 20_000),
)
def test_the_funded_length_is_the_longest_call_the_money_pays_for(
    rating: BillingIncrement, held: int, requested: int, cents: int
) -> None:
    available = Money.from_minor_units(cents, "INR")
    funds = OverageFunds(available=lambda: available, price=priced)

    def cost(length: int) -> Money:
        over = rating.billable_for_seconds(length) - held if length else 0
        return (priced(over) if over > 0 else None) or inr(0)

    length, kept = funded_length(rating, held, requested, funds)

    assert 0 <= length <= requested
    if length:
        assert cost(length) <= available or cost(length) == inr(0)
    assert length == requested or cost(length + 1) > available  # one second more: too dear
    assert (kept or inr(0)) == cost(length)


def test_a_call_without_minutes_runs_as_long_as_the_wallet_pays_for_and_keeps_that_money() -> None:
    ledger = ledger_with(0)

    hold = ledger.reserve("c1", 3600, T0, funds=funds_of(10))

    # INR 10 pays 5 minutes of overage (INR 7.50 and 18 % tax: 8.85); 6 would cost 10.62.
    assert (hold.seconds, hold.max_seconds, hold.funds) == (0, 300, inr("8.85"))
    assert ledger.earmarked() == inr("8.85")


def test_minutes_first_then_the_wallet() -> None:
    ledger = ledger_with(120)

    hold = ledger.reserve("c1", 3600, T0, funds=funds_of("3.54"))

    assert (hold.seconds, hold.max_seconds, hold.funds) == (120, 240, inr("3.54"))


def test_a_call_the_minutes_cover_keeps_no_money_and_asks_the_wallet_nothing() -> None:
    asked: list[bool] = []

    def available() -> Money:
        asked.append(True)
        return inr(100)

    ledger = ledger_with(600)
    hold = ledger.reserve("c1", 300, T0, funds=OverageFunds(available=available, price=priced))

    assert (hold.max_seconds, hold.cap, hold.funds) == (300, None, None)
    assert asked == []
    assert ledger.earmarked() is None


def test_the_money_kept_is_the_sum_of_the_live_holds_and_freed_when_they_end() -> None:
    ledger = ledger_with(0)
    ledger.reserve("c1", 60, T0, funds=funds_of(10))  # INR 1.77
    ledger.reserve("c2", 120, T0, funds=funds_of(10))  # INR 3.54
    ledger.reserve("c3", 60, T0, funds=funds_of(10))  # INR 1.77
    assert ledger.earmarked() == inr("7.08")

    ledger.settle("c1", timedelta(seconds=30), T0 + timedelta(minutes=1))
    ledger.release("c2", T0 + timedelta(minutes=1))
    assert ledger.earmarked() == inr("1.77")
    ledger.expire_holds(T0 + timedelta(days=1))
    assert ledger.earmarked() is None


def test_no_call_starts_that_neither_minutes_nor_money_pay_for_and_nothing_changes() -> None:
    ledger = ledger_with(0)
    before = ledger.to_state()

    with pytest.raises(InsufficientMinutes):
        ledger.reserve("c1", 600, T0, funds=funds_of("1.76"))  # the first minute costs 1.77

    assert ledger.to_state() == before
    assert ledger.pull_events() == []


def test_without_funds_a_charge_the_wallet_call_runs_on_its_minutes_alone() -> None:
    ledger = ledger_with(120)

    hold = ledger.reserve("c1", 3600, T0)

    assert (hold.max_seconds, hold.cap, hold.funds) == (120, None, None)


def test_a_stored_hold_keeps_its_cap_and_money_and_an_older_one_reads_as_before() -> None:
    ledger = ledger_with(0)
    ledger.reserve("c1", 3600, T0, funds=funds_of(10))

    again = MinuteLedger.from_state(json.loads(json.dumps(ledger.to_state())))

    assert again.reservation("c1") == ledger.reservation("c1")
    assert again.earmarked() == inr("8.85")
    plain = ledger_with(600).reserve("c2", 60, T0)
    older = plain.to_state()
    assert "cap" not in older
    assert "funds" not in older
    assert Reservation.from_state(older) == plain
