"""Two accounts may have waiting calls of the same id: call ids are unique per account only.

The stores key calls by ``(account_id, call_id)``, and so does the waiting line: each account
hears about its own waiting call, and releasing, ending or admitting one account's call leaves
the other account's call of that id where it was. Every test runs on the in-memory store and
on SQLite, with two accounts on a plan of one concurrent call whose slots are both taken.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from attrs import evolve

from minutebill.catalog import Catalog
from minutebill.domain.admission import Admitted, Queued
from minutebill.testing.stateful import BillingRig, reference_catalog
from tests.service.test_support import STORES, open_store

A, B = "acct-a", "acct-b"


def one_slot_catalog() -> Catalog:
    """The reference catalog and ``solo``: Starter with one concurrent call."""
    reference = reference_catalog()
    starter = reference.plan("starter")
    solo = evolve(starter, code="solo", features=evolve(starter.features, concurrent_calls=1))
    return Catalog(
        plans=[*reference.plans, solo],
        bundles=reference.bundles,
        number_offers=reference.number_offers,
    )


@pytest.fixture(params=STORES)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BillingRig]:
    """Accounts A and B on ``solo``, each with its one slot taken by a call ``live``."""
    with open_store(request.param, tmp_path) as uow_factory:
        rig = BillingRig.build(uow_factory, catalog=one_slot_catalog())
        for account in (A, B):
            rig.billing.subscribe(account, "solo")
            assert isinstance(rig.billing.start_call(account, "live"), Admitted)
        yield rig


def both_wait(rig: BillingRig) -> tuple[Queued, Queued]:
    """A and then B start a call "c-1": both wait, A's first."""
    first = rig.billing.start_call(A, "c-1")
    second = rig.billing.start_call(B, "c-1")
    assert isinstance(first, Queued)
    assert isinstance(second, Queued)
    assert (first.call.key, second.call.key) == ((A, "c-1"), (B, "c-1"))
    return first, second


def line(rig: BillingRig) -> list[tuple[str, str]]:
    return [call.key for call in rig.billing.queue.waiting()]


def test_each_account_waits_with_its_own_call_and_hears_its_own_place(rig: BillingRig) -> None:
    first, second = both_wait(rig)
    assert (first.position, first.call.account_id) == (1, A)
    assert (second.position, second.call.account_id) == (2, B)
    assert line(rig) == [(A, "c-1"), (B, "c-1")]
    assert rig.billing.start_call(B, "c-1") == second
    assert rig.billing.start_call(A, "c-1") == first
    assert line(rig) == [(A, "c-1"), (B, "c-1")]


def test_releasing_one_account_s_waiting_call_leaves_the_other_s(rig: BillingRig) -> None:
    first, second = both_wait(rig)
    assert rig.billing.release_call(B, "c-1") is True
    assert rig.billing.release_call(B, "c-1") is False
    assert rig.billing.queue.waiting() == (first.call,)
    assert rig.billing.start_call(A, "c-1") == first
    # A's turn: its slot frees and its waiting call starts; B's live call is untouched.
    assert rig.billing.release_call(A, "live") is True
    assert rig.billing.admit_waiting(B) == []
    admitted = rig.billing.admit_waiting(A)
    assert [d.reservation.call_id for d in admitted] == ["c-1"]
    assert line(rig) == []
    assert second.call.account_id == B


def test_each_account_s_waiting_call_is_admitted_on_its_own(rig: BillingRig) -> None:
    both_wait(rig)
    assert rig.billing.release_call(B, "live") is True
    assert rig.billing.admit_waiting(A) == []  # A's slot is still taken
    admitted = rig.billing.admit_waiting(B)
    assert [d.reservation.call_id for d in admitted] == ["c-1"]
    assert line(rig) == [(A, "c-1")]
    assert rig.billing.release_call(A, "live") is True
    admitted = rig.billing.admit_waiting(A)
    assert [d.reservation.call_id for d in admitted] == ["c-1"]
    assert line(rig) == []
    assert isinstance(rig.billing.start_call(A, "c-1"), Admitted)  # its hold, asked again
    assert isinstance(rig.billing.start_call(B, "c-1"), Admitted)


def test_ending_one_account_s_waiting_call_leaves_the_other_s(rig: BillingRig) -> None:
    first, _ = both_wait(rig)
    assert (rig.billing.queue.waiting_for(A), rig.billing.queue.waiting_for(B)) == (1, 1)
    record = rig.billing.end_call(B, "c-1", timedelta(seconds=40))
    assert (record.account_id, record.call_id) == (B, "c-1")
    assert rig.billing.queue.waiting() == (first.call,)
    assert rig.billing.queue.waiting_for(B) == 0
    assert rig.billing.release_call(A, "live") is True
    admitted = rig.billing.admit_waiting(A)
    assert [d.reservation.call_id for d in admitted] == ["c-1"]
