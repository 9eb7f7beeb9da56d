"""Calls on overage that the wallet pays: each capped at, and keeping, the money it may spend.

Pro charges overage to the wallet at INR 1.50 a minute (60/60). Once the plan's minutes are
used, a call may run as long as the wallet's money that no live call keeps pays for; it keeps
that money until it ends, so two calls never both count on the same rupees. Every test runs
on the in-memory store and on SQLite.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from minutebill.domain.admission import Admitted, Queued, Rejected, RejectionReason
from minutebill.domain.usage import Reservation
from minutebill.testing.stateful import BillingRig
from tests.service.test_support import ACCOUNT, inr, snapshot, top_up


@pytest.fixture
def rig(rig: BillingRig) -> BillingRig:
    """The service tests' rig, with Pro's minutes used up and INR 15 in the wallet."""
    rig.billing.subscribe(ACCOUNT, "pro")
    rig.billing.end_call(ACCOUNT, "c0", timedelta(minutes=5000))  # the minutes are gone
    top_up(rig, ACCOUNT, 15, "t1")  # ten minutes of overage
    return rig


def started(rig: BillingRig, call_id: str, seconds: int = 3600) -> Reservation:
    decision = rig.billing.start_call(ACCOUNT, call_id, max_seconds=seconds)
    assert isinstance(decision, Admitted), decision
    return decision.reservation


def test_a_call_on_the_wallet_is_capped_at_what_its_money_pays_for(rig: BillingRig) -> None:
    hold = started(rig, "c1")

    assert (hold.seconds, hold.max_seconds, hold.funds) == (0, 600, inr(15))
    record = rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=hold.max_seconds))
    assert (record.overage_seconds, record.overage_charge) == (600, inr(15))
    assert rig.billing.overview(ACCOUNT).wallet_balance == inr(0)


def test_two_calls_never_count_on_the_same_money(rig: BillingRig) -> None:
    first = started(rig, "c1", seconds=240)  # four minutes: INR 6 kept
    second = started(rig, "c2")  # what is left: INR 9, six minutes

    assert (first.max_seconds, first.funds) == (240, inr(6))
    assert (second.max_seconds, second.funds) == (360, inr(9))
    before = snapshot(rig)
    assert rig.billing.start_call(ACCOUNT, "c3") == Rejected(RejectionReason.NO_MINUTES)
    assert snapshot(rig) == before
    for call_id, hold in (("c1", first), ("c2", second)):
        rig.billing.end_call(ACCOUNT, call_id, timedelta(seconds=hold.max_seconds))
    assert rig.billing.overview(ACCOUNT).wallet_balance == inr(0)  # all paid, none unpaid


def test_money_a_call_kept_is_free_again_once_it_ends(rig: BillingRig) -> None:
    started(rig, "c1")
    rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=4))  # INR 6 paid, INR 9 left
    assert (started(rig, "c2").max_seconds, rig.billing.release_call(ACCOUNT, "c2")) == (360, True)

    assert started(rig, "c3").funds == inr(9)


def test_a_call_waiting_in_line_starts_once_money_is_free_and_is_capped_by_it(
    rig: BillingRig,
) -> None:
    top_up(rig, ACCOUNT, 3, "t2")  # INR 18 in all
    holds = [started(rig, f"c{n}", seconds=60) for n in range(1, 11)]  # ten slots, INR 15 kept
    assert [h.funds for h in holds] == [inr("1.50")] * 10
    waiting = rig.billing.start_call(ACCOUNT, "late", max_seconds=600)  # INR 3 free, no slot
    assert isinstance(waiting, Queued)
    rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=3))  # ran past its cap: INR 4.50

    assert rig.billing.admit_waiting(ACCOUNT) == []  # a slot, but every rupee left is kept
    assert rig.billing.release_call(ACCOUNT, "c2") is True  # INR 1.50 free again

    (admitted,) = rig.billing.admit_waiting(ACCOUNT)
    hold = admitted.reservation
    assert (hold.call_id, hold.max_seconds, hold.funds) == ("late", 60, inr("1.50"))


def test_a_call_past_its_cap_does_not_spend_the_money_another_call_keeps(
    rig: BillingRig,
) -> None:
    first = started(rig, "c1", seconds=240)  # INR 6 kept
    second = started(rig, "c2")  # INR 9 kept
    assert (first.funds, second.funds) == (inr(6), inr(9))

    record = rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=10))  # the switch ran on

    assert record.overage_charge == inr(15)  # rated in full ...
    assert rig.billing.overview(ACCOUNT).wallet_balance == inr(9)  # ... paid as far as INR 6
    rig.billing.end_call(ACCOUNT, "c2", timedelta(seconds=second.max_seconds))
    assert rig.billing.overview(ACCOUNT).wallet_balance == inr(0)  # c2's INR 9 was there
