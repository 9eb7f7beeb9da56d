"""Every use case survives a concurrency conflict at commit: the retry does what one try does.

A store whose every unit of work conflicts once (`FailingCommits(alternate=True)`) must end
exactly like a store without conflicts after the same session: same answers, same documents,
same events published once. Anything a use case does outside the store inside its unit of
work (counting, queueing, deciding a charge) would show up here twice, or be lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from minutebill._unit_of_work import UnitOfWork
from minutebill.adapters.memory import MemoryStore
from minutebill.domain.money import Money
from minutebill.errors import (
    ConcurrencyConflict,
    MinutebillError,
    PersistenceError,
    ValidationError,
)
from minutebill.testing.fakes import Outcome
from minutebill.testing.stateful import MANDATE, UPI, BillingRig
from tests.service.test_support import (
    ACCOUNT,
    STORES,
    FailingCommits,
    RecordingPublisher,
    capture_later,
    open_store,
    snapshot,
)

PERIOD_END = datetime(2026, 2, 5, 9, tzinfo=UTC)


def session(rig: BillingRig) -> list[Any]:
    """A day in the life of an account; returns every answer."""
    b = rig.billing
    answers: list[Any] = [b.subscribe(ACCOUNT, "starter", timezone="Asia/Kolkata")]
    answers += [b.start_call(ACCOUNT, f"c{i}") for i in range(4)]  # two admitted, two wait
    answers.append(b.release_call(ACCOUNT, "c0"))
    answers.append(b.admit_waiting(ACCOUNT))
    rig.clock.advance(timedelta(minutes=3))
    answers.append(b.end_call(ACCOUNT, "c1", timedelta(minutes=2, seconds=5), tags=["a"]))
    answers.append(b.end_call(ACCOUNT, "c1", timedelta(minutes=2, seconds=5), tags=["a"]))
    answers.append(b.admit_waiting(ACCOUNT))
    rig.gateway.script(Outcome.SUCCEED, Outcome.STAY_PENDING)
    answers.append(b.top_up(ACCOUNT, Money(9000, "INR"), UPI, idempotency_key="t1"))
    pending = b.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="b1")
    answers.append(pending)
    capture_later(rig, pending.payment.payment_id)
    answers += rig.deliver(rig.gateway.take_webhooks() * 2)
    answers.append(
        b.acquire_number(
            ACCOUNT, "in-local", "+919800000001", UPI, idempotency_key="n1", mandate_id=MANDATE
        )
    )
    answers.append(b.set_auto_pay(ACCOUNT, "+919800000001", False))
    answers.append(b.set_auto_pay(ACCOUNT, "+919800000001", True))
    answers.append(b.change_plan(ACCOUNT, b.quote_plan_change(ACCOUNT, "pro")))
    rig.clock.set(PERIOD_END - timedelta(days=1))
    answers.append(b.run_due())
    rig.clock.set(PERIOD_END + timedelta(hours=1))
    answers.append(b.run_due(batch_size=1))
    answers.append(b.run_due())
    answers += rig.deliver(rig.gateway.take_webhooks())
    answers.append(b.release_number(ACCOUNT, "+919800000001"))
    answers += [b.overview(ACCOUNT), b.numbers(ACCOUNT), b.usage_history(ACCOUNT)]
    return answers


@pytest.mark.parametrize("kind", STORES)
def test_a_session_where_every_commit_conflicts_once_ends_like_one_without(
    kind: str, tmp_path: Path
) -> None:
    outcomes = []
    for name in ("calm", "contended"):
        folder = tmp_path / name
        folder.mkdir()
        with open_store(kind, folder) as uow_factory:
            factory: Callable[[], UnitOfWork] = uow_factory
            flaky = FailingCommits(uow_factory, 0, ConcurrencyConflict("ledger", 1), alternate=True)
            if name == "contended":
                factory = flaky
            publisher = RecordingPublisher()
            rig = BillingRig.build(factory, publisher=publisher)
            answers = session(rig)
            published = [(type(e).__name__, e.account_id) for e in publisher.events]
            outcomes.append((answers, snapshot(rig), published))
    (calm, calm_store, calm_events), (contended, contended_store, contended_events) = outcomes
    assert flaky.commits_refused > 20
    for step, (expected, got) in enumerate(zip(calm, contended, strict=True)):
        assert got == expected, f"answer {step} differs after retries"
    assert contended_store == calm_store
    assert contended_events == calm_events


@pytest.mark.parametrize("kind", STORES)
def test_a_use_case_that_keeps_conflicting_gives_up_and_changes_nothing(
    kind: str, tmp_path: Path
) -> None:
    with open_store(kind, tmp_path) as uow_factory:
        flaky = FailingCommits(uow_factory, 0, ConcurrencyConflict("wallet acct-1", 3))
        publisher = RecordingPublisher()
        rig = BillingRig.build(flaky, publisher=publisher)
        rig.billing.subscribe(ACCOUNT, "pro")
        before, published = snapshot(rig), len(publisher.batches)
        flaky.failures = 5  # Billing's default max_attempts
        with pytest.raises(ConcurrencyConflict):
            rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=1))
        assert flaky.commits_refused == 5
        assert snapshot(rig) == before
        assert len(publisher.batches) == published
        assert rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=1)).billable_seconds == 60


@pytest.mark.parametrize(
    ("error", "attempts"),
    [
        (PersistenceError("SQLite: database is locked", retryable=True), 2),
        (PersistenceError("SQLite: disk I/O error"), 1),
    ],
    ids=["retryable", "not-retryable"],
)
def test_driver_errors_are_retried_only_when_they_say_so(
    tmp_path: Path, error: MinutebillError, attempts: int
) -> None:
    with open_store("sqlite", tmp_path) as uow_factory:
        flaky = FailingCommits(uow_factory, 0, error)
        rig = BillingRig.build(flaky)
        rig.billing.subscribe(ACCOUNT, "pro")
        flaky.failures = 1
        if attempts == 1:
            with pytest.raises(PersistenceError):
                rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=1))
            assert rig.billing.usage_history(ACCOUNT).records == ()
        else:
            rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=1))
            assert len(rig.billing.usage_history(ACCOUNT).records) == 1
        assert flaky.commits_refused == 1


@pytest.mark.parametrize("attempts", [1, 2])
def test_max_attempts_bounds_the_tries_of_a_use_case(tmp_path: Path, attempts: int) -> None:
    with open_store("memory", tmp_path) as uow_factory:
        flaky = FailingCommits(uow_factory, 0, ConcurrencyConflict("ledger acct-1", 1))
        rig = BillingRig.build(flaky, max_attempts=attempts)
        rig.billing.subscribe(ACCOUNT, "pro")
        flaky.failures = attempts
        with pytest.raises(ConcurrencyConflict):
            rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=1))
        assert flaky.commits_refused == attempts
        assert rig.billing.usage_history(ACCOUNT).records == ()


@pytest.mark.parametrize("attempts", [0, -1])
def test_max_attempts_below_one_is_refused(attempts: int) -> None:
    with pytest.raises(ValidationError, match=f"max_attempts={attempts}"):
        BillingRig.build(MemoryStore().unit_of_work, max_attempts=attempts)
