"""Subscribing, the plan overview, live calls and the usage history, through `Billing`.

Every test runs on the in-memory store and on SQLite.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from attrs import evolve

from minutebill._unit_of_work import UsageTotals
from minutebill.catalog import Catalog
from minutebill.domain.admission import Admitted, Queued, Rejected, RejectionReason
from minutebill.domain.catalog import OveragePolicy, Plan
from minutebill.domain.ledger_events import MinutesExhausted
from minutebill.domain.money import Money
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.rating import BillingIncrement
from minutebill.domain.subscriptions import Subscription
from minutebill.errors import (
    IdempotencyConflict,
    InvalidTransition,
    LimitExceeded,
    MinutebillError,
    ValidationError,
)
from minutebill.service import _base as service_base
from minutebill.testing.fakes import Outcome
from minutebill.testing.stateful import START, UPI, BillingRig, reference_catalog
from tests.service.test_support import (
    ACCOUNT,
    STORES,
    RecordingPublisher,
    capture_later,
    open_rig,
    open_store,
    settle_minutes,
    snapshot,
    top_up,
)

# --- subscribe and the overview --------------------------------------------------------------


def test_subscribing_opens_the_account_with_the_plans_minutes(rig: BillingRig) -> None:
    overview = rig.billing.subscribe(ACCOUNT, "pro", timezone="Asia/Kolkata")
    assert (overview.plan_code, overview.plan_name, overview.status) == ("pro", "Pro", "active")
    assert overview.total_minutes == overview.remaining_minutes == Decimal(5000)
    assert overview.used_percent == Decimal("0.00")
    assert overview.period_start == START
    assert overview.period_end == overview.next_billing_at == datetime(2026, 2, 5, 9, tzinfo=UTC)
    assert overview.wallet_balance == Money(0, "INR")
    assert (overview.concurrent_calls, overview.phone_numbers) == (10, 5)
    assert rig.billing.overview(ACCOUNT) == overview


def test_subscribing_again_to_the_same_plan_returns_the_account_unchanged(
    rig: BillingRig,
) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    settle_minutes(rig, ACCOUNT, 30)
    before = snapshot(rig)
    again = rig.billing.subscribe(ACCOUNT, "pro")
    assert again == rig.billing.overview(ACCOUNT)
    assert again.used_minutes == Decimal(30)
    assert snapshot(rig) == before


def test_subscribing_to_another_plan_is_refused_and_changes_nothing(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    before = snapshot(rig)
    with pytest.raises(InvalidTransition, match="'pro'"):
        rig.billing.subscribe(ACCOUNT, "starter")
    assert snapshot(rig) == before
    assert rig.billing.overview(ACCOUNT).plan_code == "pro"


# --- subscribing again after the plan ended ---------------------------------------------------


def expire_plan(rig: BillingRig, plan: str = "starter") -> None:
    """Subscribe, cancel, and let `run_due` expire the plan at its period end (Feb 5)."""
    rig.billing.subscribe(ACCOUNT, plan, timezone="Asia/Kolkata")
    rig.billing.cancel(ACCOUNT)
    rig.clock.set(datetime(2026, 2, 10, tzinfo=UTC))
    rig.billing.run_due()
    assert rig.billing.overview(ACCOUNT).status == "expired"


def stored_subscription(rig: BillingRig) -> tuple[int, int]:
    """The generation and version of the subscription document in the store."""
    with rig.uow_factory() as uow:
        found = uow.subscriptions.get(ACCOUNT)
        return found.generation, found.version


def test_an_expired_account_subscribes_again_from_now_with_fresh_minutes(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "starter", timezone="Asia/Kolkata")
    top_up(rig, ACCOUNT, 5000, "t1")
    rig.clock.set(datetime(2026, 2, 5, 9, tzinfo=UTC))
    assert rig.billing.run_due()["plans_renewed"] == 1  # the first subscription's renewal 1
    settle_minutes(rig, ACCOUNT, 30)
    rig.billing.cancel(ACCOUNT)
    rig.clock.set(datetime(2026, 3, 20, 6, 30, tzinfo=UTC))  # 12:00 in Kolkata
    rig.billing.run_due()
    assert rig.billing.overview(ACCOUNT).status == "expired"
    generation, version = stored_subscription(rig)
    again = rig.billing.subscribe(ACCOUNT, "starter")  # the same plan: a new subscription
    assert (again.status, again.plan_code, again.timezone) == ("active", "starter", "Asia/Kolkata")
    assert again.period_start == rig.clock.now()  # the new anchor
    renews_at = datetime(2026, 4, 20, 6, 30, tzinfo=UTC)
    assert again.period_end == again.next_billing_at == again.expires_at == renews_at
    assert again.total_minutes == again.remaining_minutes == Decimal(1000)
    assert again.used_minutes == Decimal(0)
    assert again.wallet_balance == Money(5000 - 1999, "INR")  # the wallet is the account's
    assert rig.billing.overview(ACCOUNT) == again
    assert stored_subscription(rig) == (generation + 1, version + 1)  # saved over the old one
    assert [r.call_id for r in rig.billing.usage_history(ACCOUNT).records] == ["bulk-0"]
    # Its first renewal is charged under a key of its own, not the first subscription's.
    rig.clock.set(renews_at)
    assert rig.billing.run_due()["plans_renewed"] == 1
    renewed = rig.billing.overview(ACCOUNT)
    assert renewed.wallet_balance == Money(5000 - 2 * 1999, "INR")
    assert renewed.total_minutes == Decimal(1000)


def test_an_expired_account_may_subscribe_to_another_plan(rig: BillingRig) -> None:
    expire_plan(rig)
    again = rig.billing.subscribe(ACCOUNT, "pro", timezone="Asia/Kolkata")
    assert (again.status, again.plan_code, again.total_minutes) == ("active", "pro", Decimal(5000))
    assert again.concurrent_calls == 10
    assert isinstance(rig.billing.start_call(ACCOUNT, "c1"), Admitted)
    assert rig.billing.quote_plan_change(ACCOUNT, "enterprise").charge.amount > 0
    # Subscribing once more while the new plan is in force answers it and changes nothing.
    before = snapshot(rig)
    assert rig.billing.subscribe(ACCOUNT, "pro") == rig.billing.overview(ACCOUNT)
    assert snapshot(rig) == before
    with pytest.raises(InvalidTransition, match="'pro'"):
        rig.billing.subscribe(ACCOUNT, "starter")
    assert snapshot(rig) == before


def test_a_canceled_plan_past_its_end_is_expired_and_started_again_at_once(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")
    rig.billing.cancel(ACCOUNT)
    rig.clock.set(datetime(2026, 2, 10, tzinfo=UTC))  # ended Feb 5; `run_due` has not run
    again = rig.billing.subscribe(ACCOUNT, "starter")
    assert (again.status, again.period_start) == ("active", rig.clock.now())
    with rig.uow_factory() as uow:
        names = [e.name for e in uow.outbox.since(0) if e.name.startswith("Subscription")]
    assert names == [
        "SubscriptionStarted",
        "SubscriptionCanceled",
        "SubscriptionExpired",  # the old one's end, published with the new one's start
        "SubscriptionStarted",
    ]


def test_a_plan_unpaid_past_its_grace_before_the_due_work_is_expired_and_started_again(
    rig: BillingRig,
) -> None:
    """An unrenewed plan whose grace ran out is over, even before the due work says so.

    With the wallet empty and `run_due` not run since the period end, subscribing to another
    plan ten days on was refused as a plan change (the plan looked active), while
    `change_plan` found the plan expired and sent the customer back to `subscribe`.
    """
    rig.billing.subscribe(ACCOUNT, "pro")
    rig.clock.set(datetime(2026, 2, 15, tzinfo=UTC))  # due Feb 5, grace over on Feb 12
    again = rig.billing.subscribe(ACCOUNT, "starter")
    assert (again.plan_code, again.status) == ("starter", "active")
    assert (again.period_start, again.total_minutes) == (rig.clock.now(), Decimal(1000))
    with rig.uow_factory() as uow:
        assert uow.subscriptions.get(ACCOUNT).generation == 1


@pytest.mark.parametrize(
    ("timezone", "plan", "words"),
    [
        ("UTC", "starter", "Asia/Kolkata"),
        ("Mars/Olympus", "starter", "Mars"),
        (None, "gold", "gold"),
    ],
)
def test_subscribing_again_with_bad_input_is_refused_and_changes_nothing(
    rig: BillingRig, timezone: str | None, plan: str, words: str
) -> None:
    expire_plan(rig)
    before = snapshot(rig)
    with pytest.raises(MinutebillError, match=words):
        rig.billing.subscribe(ACCOUNT, plan, timezone=timezone)
    assert snapshot(rig) == before
    assert rig.billing.overview(ACCOUNT).status == "expired"


def test_subscribing_again_to_a_plan_in_another_currency_is_refused(tmp_path: Path) -> None:
    reference = reference_catalog()
    usd = evolve(reference.plan("pro"), code="pro-usd", price=Money("99.00", "USD"))
    catalog = Catalog(
        plans=[*reference.plans, usd],
        bundles=reference.bundles,
        number_offers=reference.number_offers,
    )
    with open_store("sqlite", tmp_path) as uow_factory:
        rig = BillingRig.build(uow_factory, catalog=catalog)
        expire_plan(rig)
        before = snapshot(rig)
        with pytest.raises(ValidationError, match="INR"):
            rig.billing.subscribe(ACCOUNT, "pro-usd")
        assert snapshot(rig) == before


def test_the_overview_shows_used_percent_with_two_decimals(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    settle_minutes(rig, ACCOUNT, 600, 700, 3)
    overview = rig.billing.overview(ACCOUNT)
    assert overview.used_minutes == Decimal(1303)
    assert overview.remaining_minutes == Decimal(3697)
    assert overview.used_percent == Decimal("26.06")


@pytest.mark.parametrize("kind", STORES)
def test_minutes_are_exhausted_when_the_last_second_is_used_not_before(
    kind: str, tmp_path: Path
) -> None:
    publisher = RecordingPublisher()
    with open_rig(kind, tmp_path, publisher=publisher) as rig:
        rig.billing.subscribe(ACCOUNT, "enterprise")  # 20,000 minutes, rated 60/6
        rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=1_199_940))  # 99.995 %

        overview = rig.billing.overview(ACCOUNT)
        assert (overview.remaining_minutes, overview.used_percent) == (Decimal(1), Decimal("99.99"))
        assert overview.format("en_IN")["used_percent"] != "100.00%"
        assert not any(isinstance(e, MinutesExhausted) for e in publisher.events)
        last = rig.billing.start_call(ACCOUNT, "c2", max_seconds=60)
        assert isinstance(last, Admitted)
        assert last.reservation.seconds == 60  # the minute that is left

        rig.billing.end_call(ACCOUNT, "c2", timedelta(seconds=60))

        exhausted = [e for e in publisher.events if isinstance(e, MinutesExhausted)]
        assert [(e.used_percent, e.remaining_seconds) for e in exhausted] == [(Decimal(100), 0)]
        overview = rig.billing.overview(ACCOUNT)
        assert (overview.remaining_minutes, overview.used_percent) == (Decimal(0), Decimal(100))
        after = rig.billing.start_call(ACCOUNT, "c3")  # billed in arrears: nothing to hold
        assert isinstance(after, Admitted)
        assert after.reservation.seconds == 0


def test_calls_are_rated_per_started_minute_on_the_pro_plan(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    record = rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=61))
    assert record.billable_seconds == 120
    assert rig.billing.overview(ACCOUNT).used_minutes == Decimal(2)


# --- plan changes and the plan's limit on numbers ----------------------------------------------


def buy_numbers(rig: BillingRig, *numbers: str) -> None:
    for number in numbers:
        rig.billing.acquire_number(ACCOUNT, "in-local", number, UPI, idempotency_key=number)


def held_numbers(rig: BillingRig) -> list[tuple[str, str]]:
    return [(n.number_e164, n.status) for n in rig.billing.numbers(ACCOUNT)]


def stored_plans(rig: BillingRig) -> tuple[str, str]:
    """The stored subscription's plan and the plan its next renewal is for."""
    with rig.uow_factory() as uow:
        subscription: Subscription = uow.subscriptions.get(ACCOUNT)
        return subscription.plan.code, subscription.renewal_plan.code


def test_a_scheduled_downgrade_can_be_called_off_and_scheduled_again(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    quote = rig.billing.quote_plan_change(ACCOUNT, "starter")
    rig.billing.change_plan(ACCOUNT, quote)
    assert stored_plans(rig) == ("pro", "starter")
    rig.billing.cancel_scheduled_change(ACCOUNT)
    assert stored_plans(rig) == ("pro", "pro")
    before = snapshot(rig)
    rig.billing.cancel_scheduled_change(ACCOUNT)  # nothing scheduled: nothing changes
    assert snapshot(rig) == before
    rig.billing.change_plan(ACCOUNT, quote)  # the same quote, still valid, schedules it again
    assert stored_plans(rig) == ("pro", "starter")


def test_a_downgrade_below_the_numbers_held_is_refused_when_quoted(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")  # 5 numbers; Starter allows 1
    buy_numbers(rig, "+919800000001", "+919800000002")
    before = snapshot(rig)
    with pytest.raises(LimitExceeded, match="limit is 1; this would make 2") as caught:
        rig.billing.quote_plan_change(ACCOUNT, "starter")
    assert (caught.value.limit, caught.value.requested) == (1, 2)
    assert snapshot(rig) == before
    # Once the customer released a number, the downgrade is quoted and scheduled.
    rig.billing.release_number(ACCOUNT, "+919800000002")
    quote = rig.billing.quote_plan_change(ACCOUNT, "starter")
    rig.billing.change_plan(ACCOUNT, quote)
    assert stored_plans(rig) == ("pro", "starter")


def test_a_downgrade_quoted_before_more_numbers_were_bought_is_refused_when_applied(
    rig: BillingRig,
) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    buy_numbers(rig, "+919800000001")
    quote = rig.billing.quote_plan_change(ACCOUNT, "starter")  # one number: it fits
    buy_numbers(rig, "+919800000002")
    before = snapshot(rig)
    with pytest.raises(LimitExceeded, match="phone_numbers limit is 1; this would make 2"):
        rig.billing.change_plan(ACCOUNT, quote)
    assert snapshot(rig) == before
    assert stored_plans(rig) == ("pro", "pro")


def test_while_a_downgrade_is_scheduled_numbers_are_bought_within_its_smaller_limit(
    rig: BillingRig,
) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    buy_numbers(rig, "+919800000001")
    rig.billing.change_plan(ACCOUNT, rig.billing.quote_plan_change(ACCOUNT, "starter"))
    before = snapshot(rig)
    with pytest.raises(LimitExceeded, match="phone_numbers limit is 1; this would make 2"):
        buy_numbers(rig, "+919800000002")
    assert snapshot(rig) == before
    # The renewal then switches to Starter with the one number the customer kept.
    top_up(rig, ACCOUNT, 5000, "t1")
    rig.clock.set(datetime(2026, 2, 5, 9, tzinfo=UTC))
    rig.billing.run_due()
    assert stored_plans(rig) == ("starter", "starter")
    assert held_numbers(rig) == [("+919800000001", "active")]


def test_a_number_paid_after_a_downgrade_was_scheduled_is_not_delivered_beyond_its_limit(
    rig: BillingRig,
) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    buy_numbers(rig, "+919800000001")
    rig.gateway.script(Outcome.STAY_PENDING)
    pending = rig.billing.acquire_number(
        ACCOUNT, "in-local", "+919800000002", UPI, idempotency_key="late"
    )
    # Not a number yet, so the downgrade fits; the number's payment succeeds only afterwards.
    rig.billing.change_plan(ACCOUNT, rig.billing.quote_plan_change(ACCOUNT, "starter"))
    capture_later(rig, pending.payment.payment_id)
    answers = rig.deliver(rig.gateway.take_webhooks())
    assert held_numbers(rig) == [("+919800000001", "active")]
    assert answers[-1].status is PaymentStatus.REFUNDED


def test_a_downgrade_scheduled_over_the_limit_still_applies_and_keeps_every_number(
    rig: BillingRig,
) -> None:
    """Data from before plan changes counted numbers: the renewal loses none of them."""
    rig.billing.subscribe(ACCOUNT, "pro")
    numbers = ["+919800000001", "+919800000002", "+919800000003"]
    buy_numbers(rig, *numbers)
    with rig.uow_factory() as uow:  # scheduled without the count, as before the fix
        subscription: Subscription = uow.subscriptions.get(ACCOUNT)
        at = rig.clock.now()
        quote = subscription.change_plan(rig.billing.catalog.plan("starter"), at)
        subscription.apply_plan_change(quote, at, uow.ledgers.get(ACCOUNT))
        uow.commit()
    top_up(rig, ACCOUNT, 20_000, "t1")
    rig.clock.set(datetime(2026, 2, 5, 9, tzinfo=UTC))
    rig.billing.run_due()
    assert stored_plans(rig) == ("starter", "starter")  # the price the customer agreed to
    assert held_numbers(rig) == [(n, "active") for n in numbers]  # none released or held
    before = snapshot(rig)
    with pytest.raises(LimitExceeded, match="phone_numbers limit is 1; this would make 4"):
        buy_numbers(rig, "+919800000004")
    assert snapshot(rig) == before


# --- starting calls ----------------------------------------------------------------------------


def test_an_admitted_call_holds_its_minutes_until_it_ends(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    decision = rig.billing.start_call(ACCOUNT, "c1")
    assert isinstance(decision, Admitted)
    assert decision.reservation.seconds == 300  # the admission policy's initial hold
    overview = rig.billing.overview(ACCOUNT)
    assert overview.held_minutes == Decimal(5)
    assert overview.remaining_minutes == Decimal(4995)
    assert rig.billing.start_call(ACCOUNT, "c1") == decision  # asking again answers the same
    capped = rig.billing.start_call(ACCOUNT, "c2", max_seconds=90)
    assert isinstance(capped, Admitted)
    assert capped.reservation.seconds == 120  # 60/60 bills a call of 90 s two minutes
    assert capped.reservation.max_seconds == 90  # the call runs for at most what was asked


def test_calls_on_a_blocking_plan_never_run_into_overage_on_their_holds(rig: BillingRig) -> None:
    """Two minutes left on Starter (60/60, overage blocked): a 10-second call holds one."""
    rig.billing.subscribe(ACCOUNT, "starter")
    rig.billing.end_call(ACCOUNT, "c0", timedelta(minutes=998))
    short = rig.billing.start_call(ACCOUNT, "c1", max_seconds=10)
    other = rig.billing.start_call(ACCOUNT, "c2", max_seconds=120)
    assert isinstance(short, Admitted)
    assert isinstance(other, Admitted)
    assert (short.reservation.seconds, other.reservation.seconds) == (60, 60)
    assert other.reservation.partial
    for decision in (short, other):  # each runs as long as its hold lets it
        hold = decision.reservation
        rig.billing.end_call(ACCOUNT, hold.call_id, timedelta(seconds=hold.max_seconds))
    records = rig.billing.usage_history(ACCOUNT).records
    assert [(r.call_id, r.overage_seconds) for r in records] == [("c2", 0), ("c1", 0), ("c0", 0)]


def test_a_call_that_runs_to_the_cap_of_a_partial_hold_is_paid_from_it(rig: BillingRig) -> None:
    """90 s left on Enterprise (60/6): a 10-second call holds the minute it is billed.

    The next call finds 30 s, less than any call is billed (60 s): it holds nothing rather
    than 30 s it could not keep to, and runs on overage, billed in arrears, as long as asked.
    """
    rig.billing.subscribe(ACCOUNT, "enterprise")  # 20,000 minutes: 1,200,000 s
    rig.billing.end_call(ACCOUNT, "c0", timedelta(seconds=1_199_910))  # 60 + 6 * 199,975
    short = rig.billing.start_call(ACCOUNT, "c1", max_seconds=10)
    other = rig.billing.start_call(ACCOUNT, "c2", max_seconds=120)
    assert isinstance(short, Admitted)
    assert isinstance(other, Admitted)
    assert (short.reservation.seconds, short.reservation.max_seconds) == (60, 10)
    hold = other.reservation
    assert (hold.seconds, hold.max_seconds, hold.partial, hold.funds) == (0, 120, True, None)
    assert rig.billing.overview(ACCOUNT).remaining_minutes == Decimal("0.5")  # 30 s free
    record = rig.billing.end_call(ACCOUNT, "c2", timedelta(seconds=hold.max_seconds))
    assert (record.billable_seconds, record.overage_seconds) == (120, 90)  # after the 30 s


def test_a_call_waits_in_line_when_every_slot_is_taken(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")  # two concurrent calls
    assert isinstance(rig.billing.start_call(ACCOUNT, "c1"), Admitted)
    assert isinstance(rig.billing.start_call(ACCOUNT, "c2"), Admitted)
    waiting = rig.billing.start_call(ACCOUNT, "c3")
    assert isinstance(waiting, Queued)
    assert waiting.position == 1
    assert rig.billing.admit_waiting(ACCOUNT) == []  # still no slot
    assert rig.billing.release_call(ACCOUNT, "c1") is True
    admitted = rig.billing.admit_waiting(ACCOUNT)
    assert [a.reservation.call_id for a in admitted] == ["c3"]
    assert rig.billing.overview(ACCOUNT).held_minutes == Decimal(10)


def test_calls_that_timed_out_in_line_are_still_reported_after_admit_waiting(
    rig: BillingRig,
) -> None:
    """The host collects timed-out calls with `queue.expire`: `admit_waiting` keeps them."""
    rig.billing.subscribe(ACCOUNT, "starter")  # two slots; the line's calls wait 2 minutes
    assert isinstance(rig.billing.start_call(ACCOUNT, "c1"), Admitted)
    assert isinstance(rig.billing.start_call(ACCOUNT, "c2"), Admitted)
    assert isinstance(rig.billing.start_call(ACCOUNT, "w1"), Queued)
    rig.clock.advance(timedelta(minutes=3))
    assert rig.billing.admit_waiting(ACCOUNT) == []
    timed_out = rig.billing.queue.expire(rig.clock.now())
    assert [c.call_id for c in timed_out] == ["w1"]  # so the host can tell the caller why


def test_a_call_with_no_minutes_left_is_rejected_with_a_reason_to_show(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")  # 1,000 minutes; overage blocks
    settle_minutes(rig, ACCOUNT, 1000)
    before = snapshot(rig)
    decision = rig.billing.start_call(ACCOUNT, "c1")
    assert decision == Rejected(RejectionReason.NO_MINUTES)
    assert isinstance(decision, Rejected)
    assert "No minutes left" in decision.message
    assert snapshot(rig) == before


def test_an_expired_plan_rejects_calls_with_a_reason_to_show(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")
    rig.clock.advance(timedelta(days=45))  # past the period and its grace, wallet empty
    rig.billing.run_due()
    assert rig.billing.overview(ACCOUNT).status == "expired"
    before = snapshot(rig)
    decision = rig.billing.start_call(ACCOUNT, "c1")
    assert decision == Rejected(RejectionReason.SUBSCRIPTION_EXPIRED)
    assert isinstance(decision, Rejected)
    assert decision.message == "Your plan has expired. Renew or choose a plan to place calls."
    assert snapshot(rig) == before


# --- ending and releasing calls ----------------------------------------------------------------


def test_ending_a_call_debits_its_hold_and_a_replay_returns_the_same_record(
    rig: BillingRig,
) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    rig.billing.start_call(ACCOUNT, "c1")
    rig.clock.advance(timedelta(minutes=4))
    record = rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=4, seconds=3), tags=["a"])
    assert (record.billable_seconds, record.held_seconds, record.overage_seconds) == (300, 300, 0)
    assert record.started_at == START
    assert sum(d.seconds for d in record.debits) == 300
    overview = rig.billing.overview(ACCOUNT)
    assert (overview.held_minutes, overview.used_minutes) == (Decimal(0), Decimal(5))
    before = snapshot(rig)
    rig.clock.advance(timedelta(minutes=10))
    again = rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=4, seconds=3), tags=["a"])
    assert again == record
    assert snapshot(rig) == before


@pytest.mark.parametrize(
    ("duration", "tags"),
    [(timedelta(minutes=9), ["a"]), (timedelta(minutes=4, seconds=3), ["b"])],
    ids=["other-duration", "other-tags"],
)
def test_ending_a_call_again_with_other_input_raises_and_changes_nothing(
    rig: BillingRig, duration: timedelta, tags: list[str]
) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    rig.billing.start_call(ACCOUNT, "c1")
    rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=4, seconds=3), tags=["a"])
    before = snapshot(rig)
    with pytest.raises(IdempotencyConflict, match="'c1'"):
        rig.billing.end_call(ACCOUNT, "c1", duration, tags=tags)
    assert snapshot(rig) == before


def test_releasing_a_call_frees_its_minutes_once(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    rig.billing.start_call(ACCOUNT, "c1", max_seconds=600)
    assert rig.billing.overview(ACCOUNT).held_minutes == Decimal(10)
    assert rig.billing.release_call(ACCOUNT, "c1") is True
    overview = rig.billing.overview(ACCOUNT)
    assert (overview.held_minutes, overview.remaining_minutes) == (Decimal(0), Decimal(5000))
    before = snapshot(rig)
    assert rig.billing.release_call(ACCOUNT, "c1") is False
    assert snapshot(rig) == before
    with pytest.raises(InvalidTransition):
        rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=1))
    assert snapshot(rig) == before


def test_overage_on_the_pro_plan_is_charged_to_the_wallet(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")  # overage at INR 1.50 a minute
    top_up(rig, ACCOUNT, 100, "t1")
    record = rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=5010))
    assert record.overage_seconds == 600
    assert record.overage_charge == Money("15.00", "INR")
    assert rig.billing.overview(ACCOUNT).wallet_balance == Money("85.00", "INR")
    assert rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=5010)) == record
    assert rig.billing.overview(ACCOUNT).wallet_balance == Money("85.00", "INR")


def test_with_no_minutes_a_call_starts_only_if_the_wallet_can_pay_its_first_minute(
    rig: BillingRig,
) -> None:
    """Under charge-the-wallet, overage is prepaid: an empty wallet cannot start a call.

    Pro charges INR 1.50 a minute, rated per started minute: the first minute of a call on
    overage costs INR 1.50, so INR 1 in the wallet is not enough and INR 2 is.
    """
    rig.billing.subscribe(ACCOUNT, "pro")
    settle_minutes(rig, ACCOUNT, 5000)  # every plan minute used
    before = snapshot(rig)
    decision = rig.billing.start_call(ACCOUNT, "c1")
    assert decision == Rejected(RejectionReason.NO_MINUTES)
    assert snapshot(rig) == before
    top_up(rig, ACCOUNT, 1, "t1")
    before = snapshot(rig)
    assert rig.billing.start_call(ACCOUNT, "c1") == Rejected(RejectionReason.NO_MINUTES)
    assert snapshot(rig) == before
    top_up(rig, ACCOUNT, 1, "t2")
    decision = rig.billing.start_call(ACCOUNT, "c1")
    assert isinstance(decision, Admitted)
    assert decision.reservation.seconds == 0  # it runs on overage, paid from the wallet
    record = rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=30))
    assert (record.overage_seconds, record.overage_charge) == (60, Money("1.50", "INR"))
    assert rig.billing.overview(ACCOUNT).wallet_balance == Money("0.50", "INR")


@pytest.mark.parametrize("store", STORES)
def test_a_first_second_priced_at_nothing_does_not_start_calls_on_an_empty_wallet(
    store: str, tmp_path: Path
) -> None:
    """JPY 3 a minute, per second: the first second prices to JPY 0, the first 10 s to JPY 1.

    A call on overage costs something once it lasts 10 s, so the wallet must hold JPY 1.
    """
    pro = reference_catalog().plan("pro")
    yen = evolve(
        pro,
        code="yen",
        price=Money(1000, "JPY"),
        included_minutes=1,
        features=evolve(
            pro.features,
            overage=OveragePolicy.charge_wallet(Money(3, "JPY")),
            rating=BillingIncrement.PER_SECOND,
        ),
    )
    with open_store(store, tmp_path) as uow_factory:
        rig = BillingRig.build(uow_factory, catalog=Catalog(plans=[yen], bundles=[]))
        rig.billing.subscribe(ACCOUNT, "yen")
        rig.billing.end_call(ACCOUNT, "c0", timedelta(minutes=1))  # every plan second used
        before = snapshot(rig)
        assert rig.billing.start_call(ACCOUNT, "c1") == Rejected(RejectionReason.NO_MINUTES)
        assert snapshot(rig) == before
        rig.gateway.script(Outcome.SUCCEED)
        rig.billing.top_up(ACCOUNT, Money(1, "JPY"), UPI, idempotency_key="t1")
        assert isinstance(rig.billing.start_call(ACCOUNT, "c1"), Admitted)
        record = rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=10))
        assert (record.overage_seconds, record.overage_charge) == (10, Money(1, "JPY"))


@pytest.mark.parametrize("store", STORES)
def test_overage_priced_at_nothing_starts_calls_on_an_empty_wallet(
    store: str, tmp_path: Path
) -> None:
    pro = reference_catalog().plan("pro")
    free = evolve(
        pro,
        code="free-overage",
        included_minutes=1,
        features=evolve(pro.features, overage=OveragePolicy.charge_wallet(Money(0, "INR"))),
    )
    with open_store(store, tmp_path) as uow_factory:
        rig = BillingRig.build(uow_factory, catalog=Catalog(plans=[free], bundles=[]))
        rig.billing.subscribe(ACCOUNT, "free-overage")
        rig.billing.end_call(ACCOUNT, "c0", timedelta(minutes=1))  # every plan second used
        assert isinstance(rig.billing.start_call(ACCOUNT, "c1"), Admitted)
        record = rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=3))
        assert (record.overage_seconds, record.overage_charge) == (180, Money(0, "INR"))
        assert rig.billing.overview(ACCOUNT).wallet_balance == Money(0, "INR")


def rated_sixty_six(code: str, *, included_minutes: int) -> Plan:
    """The reference plan `code` rated 60/6 with `included_minutes`, as plan ``<code>-6``."""
    plan = reference_catalog().plan(code)
    return evolve(
        plan,
        code=f"{code}-6",
        included_minutes=included_minutes,
        features=evolve(plan.features, rating=BillingIncrement(60, 6)),
    )


@pytest.mark.parametrize("store", STORES)
def test_seconds_too_few_for_the_shortest_call_start_no_call_an_empty_wallet_cannot_pay(
    store: str, tmp_path: Path
) -> None:
    """Pro rated 60/6 with 30 s left: any call is billed 60 s, so it would run on overage.

    30 s hold nothing (`reserve` keeps what the longest call they pay is billed), so the
    wallet must pay the first charge: INR 1.50 for the first minute, with its tax.
    """
    six = rated_sixty_six("pro", included_minutes=2)
    with open_store(store, tmp_path) as uow_factory:
        rig = BillingRig.build(uow_factory, catalog=Catalog(plans=[six], bundles=[]))
        rig.billing.subscribe(ACCOUNT, "pro-6")
        rig.billing.end_call(ACCOUNT, "c0", timedelta(seconds=90))  # billed 90 of 120 s
        before = snapshot(rig)
        assert rig.billing.start_call(ACCOUNT, "c1") == Rejected(RejectionReason.NO_MINUTES)
        assert snapshot(rig) == before
        top_up(rig, ACCOUNT, 2, "t1")  # the first minute costs INR 1.50 (no tax on this rig)
        decision = rig.billing.start_call(ACCOUNT, "c1")
        assert isinstance(decision, Admitted)
        hold = decision.reservation
        # INR 2 pays a call billed 78 s of overage (INR 1.95), not 84 s (INR 2.10).
        assert (hold.seconds, hold.max_seconds, hold.funds) == (0, 78, Money("1.95", "INR"))


def test_seconds_too_few_for_the_shortest_call_do_not_put_a_call_in_line(
    tmp_path: Path,
) -> None:
    """Starter (overage blocks) rated 60/6, both slots taken and 30 s free: no call can start.

    Every call is billed at least 60 s, so a third call is refused with the no-minutes reason
    instead of waiting for a slot it could never use; the line and the store are unchanged.
    """
    six = rated_sixty_six("starter", included_minutes=3)
    with open_store("memory", tmp_path) as uow_factory:
        rig = BillingRig.build(uow_factory, catalog=Catalog(plans=[six], bundles=[]))
        rig.billing.subscribe(ACCOUNT, "starter-6")  # 180 s, two slots
        assert isinstance(rig.billing.start_call(ACCOUNT, "c1", max_seconds=60), Admitted)
        assert isinstance(rig.billing.start_call(ACCOUNT, "c2", max_seconds=90), Admitted)
        before = snapshot(rig)
        decision = rig.billing.start_call(ACCOUNT, "c3")
        assert decision == Rejected(RejectionReason.NO_MINUTES)
        assert rig.billing.queue.waiting() == ()
        assert snapshot(rig) == before


def two_waiting_and_two_slots_free(rig: BillingRig) -> None:
    """Pro with 240 s free and an empty wallet; w1 and w2 wait; c0 and c1 just ended."""
    rig.billing.subscribe(ACCOUNT, "pro")  # 10 slots, overage charged to the wallet
    settle_minutes(rig, ACCOUNT, 4988)  # 720 s left, nothing in the wallet
    for i in range(10):  # each holds the minute a call of a second is billed
        assert isinstance(rig.billing.start_call(ACCOUNT, f"c{i}", max_seconds=1), Admitted)
    assert isinstance(rig.billing.start_call(ACCOUNT, "w1"), Queued)
    assert isinstance(rig.billing.start_call(ACCOUNT, "w2"), Queued)
    rig.billing.release_call(ACCOUNT, "c0")
    rig.billing.release_call(ACCOUNT, "c1")  # two slots, 240 s free


def test_waiting_calls_stop_starting_once_the_last_minutes_are_held_and_the_wallet_is_empty(
    rig: BillingRig,
) -> None:
    """Each waiting call is asked about on its own: the one before may take the last seconds."""
    two_waiting_and_two_slots_free(rig)
    admitted = rig.billing.admit_waiting(ACCOUNT)
    assert [a.reservation.call_id for a in admitted] == ["w1"]  # it holds the 240 s
    assert admitted[0].reservation.seconds == 240


def test_a_waiting_call_that_cannot_be_paid_for_yet_keeps_its_place_until_a_top_up(
    rig: BillingRig,
) -> None:
    """A waiting call that cannot start stays in line: the host was never told otherwise.

    `admit_waiting` answers only with the calls it admitted, so a waiting call it could not
    start must not leave the line unseen: it waits on, and starts once the wallet can pay
    (or times out, and `queue.expire` reports it).
    """
    two_waiting_and_two_slots_free(rig)
    assert [a.reservation.call_id for a in rig.billing.admit_waiting(ACCOUNT)] == ["w1"]
    assert [c.call_id for c in rig.billing.queue.waiting()] == ["w2"]  # not dropped unseen
    assert rig.billing.start_call(ACCOUNT, "w2") == Queued(1, rig.billing.queue.waiting()[0])
    top_up(rig, ACCOUNT, 2, "t1")  # INR 2 pays the first minute (INR 1.50)
    admitted = rig.billing.admit_waiting(ACCOUNT)
    assert [(a.reservation.call_id, a.reservation.seconds) for a in admitted] == [("w2", 0)]
    assert len(rig.billing.queue) == 0


def test_a_waiting_call_starts_on_a_bundle_bought_after_the_minutes_ran_out(
    rig: BillingRig,
) -> None:
    rig.billing.subscribe(ACCOUNT, "starter")  # two slots, 1,000 minutes, overage blocks
    settle_minutes(rig, ACCOUNT, 997)
    assert isinstance(rig.billing.start_call(ACCOUNT, "c1", max_seconds=60), Admitted)
    assert isinstance(rig.billing.start_call(ACCOUNT, "c2", max_seconds=60), Admitted)
    assert isinstance(rig.billing.start_call(ACCOUNT, "w1"), Queued)  # one minute is free
    rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=120))  # and c1 uses it
    assert rig.billing.admit_waiting(ACCOUNT) == []  # a slot, but not a second to hold
    assert [c.call_id for c in rig.billing.queue.waiting()] == ["w1"]
    rig.gateway.script(Outcome.SUCCEED)
    rig.billing.checkout_bundle(ACCOUNT, "elite", UPI, idempotency_key="b1")  # 100 minutes
    admitted = rig.billing.admit_waiting(ACCOUNT)
    assert [(a.reservation.call_id, a.reservation.seconds) for a in admitted] == [("w1", 300)]
    assert len(rig.billing.queue) == 0


def test_with_minutes_left_an_empty_wallet_does_not_stop_a_call(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    settle_minutes(rig, ACCOUNT, 4999)  # one minute left, nothing in the wallet
    decision = rig.billing.start_call(ACCOUNT, "c1", max_seconds=600)
    assert isinstance(decision, Admitted)
    assert (decision.reservation.seconds, decision.reservation.partial) == (60, True)


def test_a_call_after_the_period_end_uses_the_renewed_minutes_before_due_work_runs(
    rig: BillingRig,
) -> None:
    """The renewal the wallet pays is made when the call needs it, not when `run_due` runs.

    Five minutes after the period end, with the due work not run yet, a five-minute call on
    Pro used to be overage (INR 7.50 from the wallet) and left the new period's 5,000 minutes
    untouched once the renewal ran: the figures depended on the scheduler's lag.
    """
    rig.billing.subscribe(ACCOUNT, "pro")
    top_up(rig, ACCOUNT, 10_000, "t1")
    settle_minutes(rig, ACCOUNT, 4990)
    period_end = datetime(2026, 2, 5, 9, tzinfo=UTC)
    rig.clock.set(period_end + timedelta(minutes=5))
    decision = rig.billing.start_call(ACCOUNT, "late-1")
    assert isinstance(decision, Admitted)
    assert decision.reservation.seconds == 300  # held from the new period's minutes
    rig.clock.advance(timedelta(minutes=5))
    record = rig.billing.end_call(ACCOUNT, "late-1", timedelta(minutes=5))
    assert (record.billable_seconds, record.overage_seconds, record.overage_charge) == (
        300,
        0,
        None,
    )
    overview = rig.billing.overview(ACCOUNT)
    assert overview.period_start == period_end
    assert (overview.total_minutes, overview.used_minutes) == (Decimal(5000), Decimal(5))
    assert overview.wallet_balance == Money(10_000 - 7999, "INR")  # the renewal, no overage
    assert rig.billing.run_due()["plans_renewed"] == 0  # already renewed, once
    assert rig.billing.overview(ACCOUNT).wallet_balance == Money(10_000 - 7999, "INR")


def test_a_call_ended_after_the_period_end_is_rated_on_the_renewed_minutes(
    rig: BillingRig,
) -> None:
    """Ending a call (no hold: imported usage) after the period end renews first too."""
    rig.billing.subscribe(ACCOUNT, "starter")  # 1,000 minutes; overage blocks
    top_up(rig, ACCOUNT, 1999, "t1")
    settle_minutes(rig, ACCOUNT, 1000)
    rig.clock.set(datetime(2026, 2, 5, 9, 1, tzinfo=UTC))
    record = rig.billing.end_call(ACCOUNT, "cdr-1", timedelta(minutes=1))
    assert (record.billable_seconds, record.overage_seconds) == (60, 0)
    overview = rig.billing.overview(ACCOUNT)
    assert (overview.remaining_minutes, overview.wallet_balance) == (Decimal(999), Money(0, "INR"))


def test_the_overview_after_the_period_end_shows_the_plan_as_the_due_work_leaves_it(
    rig: BillingRig,
) -> None:
    """Between the period end and the due work, the overview shows the renewed period.

    It used to show the ended period, whose plan minutes had expired: Total 5,000,
    Remaining 0 and ``0.00% Used`` at 00:05 on the renewal day, while a call made then was
    rated on the new period's 5,000 minutes. Like `quote_plan_change`, the overview now does
    the due work on its own copies (the renewal paid from the wallet, else past due) and
    saves nothing.
    """
    rig.billing.subscribe(ACCOUNT, "pro")
    top_up(rig, ACCOUNT, 10_000, "t1")
    settle_minutes(rig, ACCOUNT, 30)
    period_end = datetime(2026, 2, 5, 9, tzinfo=UTC)
    rig.clock.set(period_end + timedelta(minutes=5))
    before = snapshot(rig)
    overview = rig.billing.overview(ACCOUNT)
    assert snapshot(rig) == before  # a read: nothing saved
    assert (overview.status, overview.period_start) == ("active", period_end)
    assert overview.next_billing_at == datetime(2026, 3, 5, 9, tzinfo=UTC)
    assert (overview.total_minutes, overview.remaining_minutes) == (Decimal(5000), Decimal(5000))
    assert overview.used_percent == Decimal("0.00")
    assert overview.wallet_balance == Money(10_000 - 7999, "INR")
    assert overview.format("en_IN")["renewal_note"] == "renews in 28 days"
    rig.billing.run_due()
    assert rig.billing.overview(ACCOUNT) == overview


def test_the_overview_after_the_period_end_with_an_empty_wallet_shows_the_plan_past_due(
    rig: BillingRig,
) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    period_end = datetime(2026, 2, 5, 9, tzinfo=UTC)
    rig.clock.set(period_end + timedelta(minutes=5))
    overview = rig.billing.overview(ACCOUNT)
    assert (overview.status, overview.next_billing_at) == ("past_due", period_end)
    assert overview.expires_at == period_end + timedelta(days=7)
    rig.billing.run_due()
    assert rig.billing.overview(ACCOUNT) == overview


def test_canceling_after_the_period_end_before_the_due_work_cancels_the_renewed_period(
    rig: BillingRig,
) -> None:
    """A cancel at 00:05 on the renewal day ends the plan as if the scheduler had run.

    The due work renews the plan at its period end from the wallet; a cancel made before it
    ran used to end the plan at once (CANCELED with its end in the past, then EXPIRED) and
    skip the renewal, while the same cancel after the due work ran cancels at the end of
    the renewed period: the outcome depended on the scheduler's lag.
    """
    rig.billing.subscribe(ACCOUNT, "pro")
    top_up(rig, ACCOUNT, 10_000, "t1")
    period_end = datetime(2026, 2, 5, 9, tzinfo=UTC)
    rig.clock.set(period_end + timedelta(minutes=5))
    overview = rig.billing.cancel(ACCOUNT)
    assert (overview.status, overview.next_billing_at) == ("canceled", None)
    assert overview.expires_at == datetime(2026, 3, 5, 9, tzinfo=UTC)
    assert overview.remaining_minutes == Decimal(5000)
    assert overview.wallet_balance == Money(10_000 - 7999, "INR")
    rig.billing.run_due()
    assert rig.billing.overview(ACCOUNT).status == "canceled"
    assert rig.billing.resume(ACCOUNT).next_billing_at == datetime(2026, 3, 5, 9, tzinfo=UTC)


def test_calling_off_a_downgrade_after_the_period_end_comes_after_the_due_work(
    rig: BillingRig,
) -> None:
    """A downgrade due at the period end has taken effect by then, scheduler or not."""
    rig.billing.subscribe(ACCOUNT, "pro")
    top_up(rig, ACCOUNT, 10_000, "t1")
    rig.billing.change_plan(ACCOUNT, rig.billing.quote_plan_change(ACCOUNT, "starter"))
    rig.clock.set(datetime(2026, 2, 5, 9, 5, tzinfo=UTC))
    overview = rig.billing.cancel_scheduled_change(ACCOUNT)
    assert (overview.plan_code, overview.total_minutes) == ("starter", Decimal(1000))
    assert overview.wallet_balance == Money(10_000 - 1999, "INR")


# --- usage history -------------------------------------------------------------------------


def test_the_usage_history_pages_newest_first_without_gaps_or_repeats(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    settle_minutes(rig, ACCOUNT, *range(1, 13))
    pages = []
    cursor: str | None = None
    while True:
        page = rig.billing.usage_history(ACCOUNT, cursor=cursor, limit=5)
        pages.append([r.call_id for r in page.records])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [c for p in pages for c in p] == [f"bulk-{i}" for i in reversed(range(12))]
    whole = rig.billing.usage_history(ACCOUNT, limit=500)
    assert [r.call_id for r in whole.records] == [c for p in pages for c in p]
    assert whole.next_cursor is None


def test_usage_is_totalled_per_local_day_and_per_tag(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "pro", timezone="Asia/Kolkata")  # UTC+05:30
    rig.clock.set(datetime(2026, 1, 10, 18, 0, tzinfo=UTC))  # 23:30 on the 10th in Kolkata
    rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=30), tags=["camp-a", "agent-7"])
    rig.billing.end_call(ACCOUNT, "c2", timedelta(seconds=90), tags=["camp-a"])
    rig.clock.set(datetime(2026, 1, 10, 19, 0, tzinfo=UTC))  # 00:30 on the 11th in Kolkata
    rig.billing.end_call(ACCOUNT, "c3", timedelta(minutes=3), tags=["camp-b"])
    days = rig.billing.usage_by_day(ACCOUNT, date(2026, 1, 1), date(2026, 2, 1))
    assert days == [
        (date(2026, 1, 10), UsageTotals(calls=2, billable_seconds=180, overage_seconds=0)),
        (date(2026, 1, 11), UsageTotals(calls=1, billable_seconds=180, overage_seconds=0)),
    ]
    only_a = rig.billing.usage_by_day(ACCOUNT, date(2026, 1, 1), date(2026, 2, 1), tag="camp-a")
    assert only_a == [(date(2026, 1, 10), UsageTotals(2, 180, 0))]
    assert rig.billing.usage_by_day(ACCOUNT, date(2026, 1, 11), date(2026, 1, 11)) == []
    assert rig.billing.usage_by_tag(ACCOUNT, date(2026, 1, 1), date(2026, 2, 1)) == {
        "agent-7": UsageTotals(1, 60, 0),
        "camp-a": UsageTotals(2, 180, 0),
        "camp-b": UsageTotals(1, 180, 0),
    }
    assert rig.billing.usage_by_tag(ACCOUNT, date(2026, 1, 11), date(2026, 1, 12)) == {
        "camp-b": UsageTotals(1, 180, 0)
    }


def test_a_string_of_tags_is_refused_rather_than_split_into_letters(rig: BillingRig) -> None:
    rig.billing.subscribe(ACCOUNT, "pro")
    before = snapshot(rig)
    with pytest.raises(ValidationError, match="tags"):
        rig.billing.end_call(ACCOUNT, "c1", timedelta(seconds=5), tags="camp-a")
    assert snapshot(rig) == before


def test_a_billing_remembers_a_bounded_number_of_time_zones(
    rig: BillingRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each settlement files its call under the account's local day, whatever was forgotten."""
    monkeypatch.setattr(service_base, "_ZONES_KEPT", 2)
    late_evening_utc = datetime(2026, 1, 10, 20, 0, tzinfo=UTC)  # 11 Jan in Kolkata
    rig.clock.set(late_evening_utc - timedelta(days=1))
    zones = ["Asia/Kolkata", "UTC", "America/New_York"] * 2
    for n, timezone in enumerate(zones[:3]):
        rig.billing.subscribe(f"zone-{n}", "starter", timezone=timezone)
    rig.clock.set(late_evening_utc)
    for n, _ in enumerate(zones):
        rig.billing.end_call(f"zone-{n % 3}", f"call-{n}", timedelta(minutes=1))
        assert len(rig.billing._zones) <= 2
    days = [
        [
            day
            for day, _ in rig.billing.usage_by_day(f"zone-{n}", date(2026, 1, 9), date(2026, 1, 13))
        ]
        for n in range(3)
    ]
    assert days == [[date(2026, 1, 11)], [date(2026, 1, 10)], [date(2026, 1, 10)]]
