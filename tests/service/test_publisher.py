"""Committed events reach the `EventPublisher` exactly once per commit, and only then.

What is published must be exactly what the outbox committed, in the same order, batch by
batch; a use case that fails (in the domain, or at commit) publishes nothing; reads publish
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from minutebill._serialization import event_payload
from minutebill._unit_of_work import UnitOfWork
from minutebill.domain.events import DomainEvent
from minutebill.domain.money import Money
from minutebill.errors import InsufficientFunds, PersistenceError
from minutebill.testing.stateful import UPI, BillingRig
from tests.service.test_support import (
    ACCOUNT,
    STORES,
    FailingCommits,
    RecordingPublisher,
    open_store,
    snapshot,
    top_up,
)


@pytest.fixture(params=STORES)
def uow_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], UnitOfWork]]:
    with open_store(request.param, tmp_path) as opened:
        yield opened


def outbox(uow_factory: Callable[[], UnitOfWork]) -> list[tuple[str, str, datetime, object]]:
    with uow_factory() as uow:
        entries = uow.outbox.since(0, limit=100_000)
    return [(e.account_id, e.name, e.occurred_at, e.payload) for e in entries]


def as_entries(events: Sequence[DomainEvent]) -> list[tuple[str, str, datetime, object]]:
    return [(e.account_id, type(e).__name__, e.occurred_at, event_payload(e)) for e in events]


def test_every_committed_event_is_published_once_in_commit_order(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    publisher = RecordingPublisher()
    rig = BillingRig.build(uow_factory, publisher=publisher)
    b = rig.billing
    b.subscribe(ACCOUNT, "pro")
    assert [type(e).__name__ for e in publisher.events] == [
        "MinutePeriodOpened",
        "MinutesGranted",
        "SubscriptionStarted",
    ]
    b.start_call(ACCOUNT, "c1")
    b.end_call(ACCOUNT, "c1", timedelta(minutes=3))
    b.end_call(ACCOUNT, "c1", timedelta(minutes=3))  # a replay commits nothing new
    top_up(rig, ACCOUNT, 9000, "t1")
    rig.deliver(rig.gateway.take_webhooks() * 3)
    b.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="b1")
    b.acquire_number(ACCOUNT, "in-local", "+919800000001", UPI, idempotency_key="n1")
    rig.clock.set(datetime(2026, 2, 5, 10, tzinfo=UTC))
    b.run_due(batch_size=1)
    assert as_entries(publisher.events) == outbox(uow_factory)
    assert all(publisher.batches), "an empty batch was published"
    assert "SubscriptionRenewed" in {type(e).__name__ for e in publisher.events}


def test_reads_and_replays_publish_nothing(uow_factory: Callable[[], UnitOfWork]) -> None:
    publisher = RecordingPublisher()
    rig = BillingRig.build(uow_factory, publisher=publisher)
    b = rig.billing
    b.subscribe(ACCOUNT, "pro")
    b.end_call(ACCOUNT, "c1", timedelta(minutes=3), tags=["a"])
    top_up(rig, ACCOUNT, 100, "t1")
    published = len(publisher.batches)
    b.overview(ACCOUNT)
    b.numbers(ACCOUNT)
    b.usage_history(ACCOUNT)
    b.quote_plan_change(ACCOUNT, "enterprise")
    b.subscribe(ACCOUNT, "pro")
    b.end_call(ACCOUNT, "c1", timedelta(minutes=3), tags=["a"])
    b.top_up(ACCOUNT, Money(100, "INR"), UPI, idempotency_key="t1")
    b.run_due()
    b.run_due()
    assert len(publisher.batches) == published


def test_a_use_case_refused_by_the_domain_publishes_nothing(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    publisher = RecordingPublisher()
    rig = BillingRig.build(uow_factory, publisher=publisher)
    rig.billing.subscribe(ACCOUNT, "pro")
    published, before = len(publisher.batches), outbox(uow_factory)
    quote = rig.billing.quote_plan_change(ACCOUNT, "enterprise")
    with pytest.raises(InsufficientFunds):
        rig.billing.change_plan(ACCOUNT, quote)
    assert len(publisher.batches) == published
    assert outbox(uow_factory) == before


def test_a_failed_commit_publishes_nothing_and_stores_nothing(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    flaky = FailingCommits(uow_factory, 0, PersistenceError("disk full"))
    publisher = RecordingPublisher()
    rig = BillingRig.build(flaky, publisher=publisher)
    rig.billing.subscribe(ACCOUNT, "pro")
    published, before = len(publisher.batches), snapshot(rig)
    flaky.failures = 1
    with pytest.raises(PersistenceError, match="disk full"):
        rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=3))
    assert len(publisher.batches) == published
    assert snapshot(rig) == before


def test_a_retried_commit_publishes_its_events_once(uow_factory: Callable[[], UnitOfWork]) -> None:
    from minutebill.errors import ConcurrencyConflict

    flaky = FailingCommits(uow_factory, 0, ConcurrencyConflict("ledger acct-1", 1))
    publisher = RecordingPublisher()
    rig = BillingRig.build(flaky, publisher=publisher)
    rig.billing.subscribe(ACCOUNT, "pro")
    published = len(publisher.batches)
    flaky.failures = 2
    rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=3))
    assert flaky.commits_refused == 2
    (batch,) = publisher.batches[published:]
    assert [type(e).__name__ for e in batch] == ["CallSettled"]
    assert as_entries(publisher.events) == outbox(uow_factory)


class _BrokenPublisher(RecordingPublisher):
    """Takes each batch, then fails: a message broker that went away mid-delivery."""

    def publish(self, events: Sequence[DomainEvent]) -> None:
        super().publish(events)
        raise ConnectionError("broker unavailable")


def test_a_failing_publisher_reaches_the_caller_and_the_commit_stands(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    publisher = _BrokenPublisher()
    rig = BillingRig.build(uow_factory, publisher=publisher)
    with pytest.raises(ConnectionError, match="broker"):
        rig.billing.subscribe(ACCOUNT, "pro")
    assert len(publisher.batches) == 1  # offered once, never again

    assert rig.billing.overview(ACCOUNT).plan_code == "pro"  # the subscription was committed
    assert as_entries(publisher.events) == outbox(uow_factory)  # and its events are kept
    with pytest.raises(ConnectionError):
        rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=3))
    assert rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=3)).billable_seconds == 180
    assert len(publisher.batches) == 2  # the retry was a replay: nothing new to publish
