"""Call ids are not reused: a call that ended is never admitted again, through `Billing`.

The ledger remembers the calls it settled only while it is loaded, and the waiting line lives
in one process, so each test ends a call and then asks again through a fresh unit of work (as
every use case does), or through a second `Billing` on the same store (another process, or
this one restarted). Every refusal leaves the store and the line as they were. Every test runs
on the in-memory store and on SQLite.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from minutebill.domain.admission import Admitted, Queued
from minutebill.errors import InvalidTransition, PersistenceError
from minutebill.testing.stateful import BillingRig
from tests.service.test_support import (
    ACCOUNT,
    STORES,
    FailingCommits,
    open_store,
    snapshot,
)

OTHER = "acct-2"


def another_process(rig: BillingRig) -> BillingRig:
    """A second `Billing` on the same store and clock, with a waiting line of its own."""
    return BillingRig.build(rig.uow_factory, clock=rig.clock)


def state(rig: BillingRig) -> tuple[dict[str, Any], tuple[object, ...]]:
    """The store's contents and the rig's waiting line."""
    return snapshot(rig, ACCOUNT, OTHER), rig.billing.queue.waiting()


def fill_both_slots(rig: BillingRig, *call_ids: str) -> None:
    """Start two calls on the Starter plan (two concurrent calls): the next one waits."""
    for call_id in call_ids or ("live-1", "live-2"):
        assert isinstance(rig.billing.start_call(ACCOUNT, call_id), Admitted)


# --- starting a settled call -------------------------------------------------------------------


def test_a_settled_call_is_not_started_again_and_nothing_changes(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")
    rig.billing.start_call(ACCOUNT, "c1", max_seconds=100)
    rig.clock.advance(timedelta(seconds=30))
    record = rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=30))
    before = state(rig)
    with pytest.raises(InvalidTransition, match="start call 'c1' while it is settled") as refusal:
        rig.billing.start_call(ACCOUNT, "c1", max_seconds=100)
    assert (refusal.value.state, refusal.value.action) == ("settled", "start")
    assert state(rig) == before
    # A retried end returns the first record and leaves nothing held.
    assert rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=30)) == record
    assert rig.billing.overview(ACCOUNT).held_minutes == Decimal(0)
    assert state(rig) == before
    # Both slots are free.
    fill_both_slots(rig, "c2", "c3")


def test_a_call_settled_without_a_hold_is_not_started_afterwards(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    rig.billing.end_call(ACCOUNT, "cdr-1", timedelta(minutes=3))  # imported from a CDR
    before = state(rig)
    with pytest.raises(InvalidTransition, match="settled"):
        rig.billing.start_call(ACCOUNT, "cdr-1")
    assert state(rig) == before


def test_a_settled_call_does_not_join_the_line_when_every_slot_is_taken(
    rig: BillingRig,
) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")
    rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=30))
    fill_both_slots(rig)
    before = state(rig)
    with pytest.raises(InvalidTransition, match="settled"):
        rig.billing.start_call(ACCOUNT, "c1")
    assert state(rig) == before
    assert len(rig.billing.queue) == 0


def test_a_restarted_process_refuses_a_settled_call_too(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")
    rig.billing.start_call(ACCOUNT, "c1")
    rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=30))
    restarted = another_process(rig)
    before = state(restarted)
    with pytest.raises(InvalidTransition, match="settled"):
        restarted.billing.start_call(ACCOUNT, "c1")
    assert state(restarted) == before


def test_another_account_may_use_the_same_call_id(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")
    rig.billing.subscribe(OTHER, "starter")
    rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=30))
    assert isinstance(rig.billing.start_call(OTHER, "c1"), Admitted)


# --- releasing ---------------------------------------------------------------------------------


def test_a_settled_call_cannot_be_released(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")
    rig.billing.start_call(ACCOUNT, "c1")
    rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=30))
    before = state(rig)
    with pytest.raises(InvalidTransition, match="release call 'c1' while it is settled"):
        rig.billing.release_call(ACCOUNT, "c1")
    assert state(rig) == before


def test_a_released_call_is_not_started_again_even_when_it_would_wait(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")
    rig.billing.start_call(ACCOUNT, "c1")
    assert rig.billing.release_call(ACCOUNT, "c1") is True
    before = state(rig)
    with pytest.raises(InvalidTransition, match="while it is released"):
        another_process(rig).billing.start_call(ACCOUNT, "c1")  # a slot is free
    assert state(rig) == before
    fill_both_slots(rig)
    before = state(rig)
    with pytest.raises(InvalidTransition, match="start call 'c1' while it is released"):
        rig.billing.start_call(ACCOUNT, "c1")  # no slot: it must not wait either
    assert state(rig) == before
    assert rig.billing.release_call(ACCOUNT, "live-1") is True
    assert rig.billing.admit_waiting(ACCOUNT) == []


# --- a call that ends while it waits -----------------------------------------------------------


def test_a_call_ended_while_it_waits_is_billed_and_leaves_the_line(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")
    fill_both_slots(rig)
    assert isinstance(rig.billing.start_call(ACCOUNT, "c3"), Queued)
    record = rig.billing.end_call(ACCOUNT, "c3", timedelta(seconds=40))
    assert (record.billable_seconds, record.held_seconds) == (60, 0)  # 60/60, from the grants
    assert len(rig.billing.queue) == 0
    assert rig.billing.release_call(ACCOUNT, "live-1") is True
    before = state(rig)
    assert rig.billing.admit_waiting(ACCOUNT) == []
    assert state(rig) == before
    with pytest.raises(InvalidTransition, match="settled"):
        rig.billing.start_call(ACCOUNT, "c3")
    assert rig.billing.end_call(ACCOUNT, "c3", timedelta(seconds=40)) == record
    # One call is live on a two-slot plan: the next call starts, holding its own minutes only.
    assert isinstance(rig.billing.start_call(ACCOUNT, "c4"), Admitted)
    overview = rig.billing.overview(ACCOUNT)
    assert (overview.held_minutes, overview.used_minutes) == (Decimal(10), Decimal(1))


@pytest.mark.parametrize("kind", STORES)
def test_a_call_whose_settlement_fails_while_it_waits_keeps_its_place(
    kind: str, tmp_path: Path
) -> None:
    with open_store(kind, tmp_path) as uow_factory:
        flaky = FailingCommits(uow_factory, 0, PersistenceError("disk I/O error"))
        rig = BillingRig.build(flaky)
        rig.billing.subscribe(ACCOUNT, "starter")
        fill_both_slots(rig)
        waiting = rig.billing.start_call(ACCOUNT, "c3")
        assert isinstance(waiting, Queued)
        before = state(rig)
        flaky.failures = 1
        with pytest.raises(PersistenceError):
            rig.billing.end_call(ACCOUNT, "c3", timedelta(seconds=40))
        assert state(rig) == before
        assert rig.billing.queue.waiting() == (waiting.call,)


def test_a_call_settled_by_another_process_while_it_waits_here_is_not_admitted(
    rig: BillingRig,
) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")
    fill_both_slots(rig)
    assert isinstance(rig.billing.start_call(ACCOUNT, "c3"), Queued)
    assert isinstance(rig.billing.start_call(ACCOUNT, "c4"), Queued)
    other = another_process(rig)
    other.billing.end_call(ACCOUNT, "c3", timedelta(seconds=40))
    assert other.billing.release_call(ACCOUNT, "live-1") is True
    admitted = rig.billing.admit_waiting(ACCOUNT)
    assert [a.reservation.call_id for a in admitted] == ["c4"]  # c3 left the line, unadmitted
    assert len(rig.billing.queue) == 0
    assert rig.billing.overview(ACCOUNT).held_minutes == Decimal(10)  # live-2 and c4


def test_a_call_released_by_another_process_while_it_waits_here_is_not_admitted(
    rig: BillingRig,
) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")
    fill_both_slots(rig)
    assert isinstance(rig.billing.start_call(ACCOUNT, "c3"), Queued)
    assert isinstance(rig.billing.start_call(ACCOUNT, "c4"), Queued)
    other = another_process(rig)
    assert other.billing.release_call(ACCOUNT, "live-1") is True
    assert isinstance(other.billing.start_call(ACCOUNT, "c3"), Admitted)  # routed twice
    assert other.billing.release_call(ACCOUNT, "c3") is True
    admitted = rig.billing.admit_waiting(ACCOUNT)
    assert [a.reservation.call_id for a in admitted] == ["c4"]
    assert len(rig.billing.queue) == 0


def test_ending_a_call_leaves_another_accounts_waiting_call_of_that_id_in_line(
    rig: BillingRig,
) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")
    rig.billing.subscribe(OTHER, "starter")
    fill_both_slots(rig)
    waiting = rig.billing.start_call(ACCOUNT, "c3")
    assert isinstance(waiting, Queued)
    rig.billing.end_call(OTHER, "c3", timedelta(seconds=40))
    assert rig.billing.queue.waiting() == (waiting.call,)
