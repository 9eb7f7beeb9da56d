"""Plan subscriptions: starting, the billing page, cancel and resume, state round trips."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill import BillingIncrement, BillingInterval, BillingPeriod, Money, Plan, PlanFeatures
from minutebill.domain.ledger import GrantSource, LedgerPolicy, MinuteLedger
from minutebill.domain.proration import ProrationPolicy
from minutebill.domain.subscription_events import (
    ScheduledPlanChangeCanceled,
    SubscriptionCanceled,
    SubscriptionExpired,
    SubscriptionResumed,
    SubscriptionStarted,
)
from minutebill.domain.subscriptions import (
    PaymentOutcome,
    RolloverPolicy,
    Subscription,
    SubscriptionStatus,
)
from minutebill.errors import InvalidTransition, MinutebillError, ValidationError

KOLKATA = ZoneInfo("Asia/Kolkata")
T0 = datetime(2025, 1, 10, tzinfo=KOLKATA)


def plan(code: str, price: str, minutes: int, *, months: int = 1, priority: int = 0) -> Plan:
    return Plan(
        code=code,
        name=code.title(),
        price=Money(price, "INR"),
        interval=BillingInterval(months),
        included_minutes=minutes,
        features=PlanFeatures(concurrent_calls=2, phone_numbers=1, queue_priority=priority),
    )


STARTER = plan("starter", "1999.00", 1000)
PRO = plan("pro", "7999.00", 5000, priority=5)


def subscribe(
    p: Plan = STARTER, at: datetime = T0, **kwargs: object
) -> tuple[Subscription, MinuteLedger]:
    ledger = MinuteLedger("acme")
    sub = Subscription.start("acme", p, at, ledger=ledger, timezone="Asia/Kolkata", **kwargs)  # type: ignore[arg-type]
    return sub, ledger


def status(sub: Subscription) -> SubscriptionStatus:
    """The status, read through a call so mypy does not narrow it across actions."""
    return sub.status


def pictures(sub: Subscription, ledger: MinuteLedger) -> tuple[object, object]:
    return sub.to_state(), ledger.to_state()


def assert_refused_unchanged(
    sub: Subscription,
    ledger: MinuteLedger,
    action: Callable[[], object],
    error: type[MinutebillError],
) -> MinutebillError:
    before = pictures(sub, ledger)
    sub.pull_events()
    ledger.pull_events()
    with pytest.raises(error) as raised:
        action()
    assert pictures(sub, ledger) == before
    assert sub.pull_events() == []
    assert ledger.pull_events() == []
    return raised.value


# --- starting -------------------------------------------------------------------------------


def test_starting_grants_the_first_period_s_minutes_and_shows_the_billing_page() -> None:
    sub, ledger = subscribe()
    assert status(sub) is SubscriptionStatus.ACTIVE
    assert sub.current_period.start == T0
    assert sub.current_period.end == datetime(2025, 2, 10, tzinfo=KOLKATA)
    assert sub.next_billing_at == sub.expires_at == sub.current_period.end
    assert sub.auto_renew
    snapshot = ledger.snapshot(T0)
    assert snapshot.total_seconds == snapshot.remaining_seconds == 1000 * 60
    assert snapshot.period == sub.current_period
    [grant] = ledger.grants()
    assert grant.grant_id == "plan:acme:0"
    assert grant.expires_at == sub.current_period.end
    [event] = sub.pull_events()
    assert isinstance(event, SubscriptionStarted)
    assert event.granted_seconds == 60_000
    assert event.plan_code == "starter"


def test_starting_gives_the_ledger_the_plan_s_rating_and_overage_but_keeps_its_warnings() -> None:
    pro = Plan(
        "pro",
        "Pro",
        Money("7999.00", "INR"),
        BillingInterval.monthly(),
        5000,
        PlanFeatures(10, 5, 5, rating=BillingIncrement.parse("60/6")),
    )
    ledger = MinuteLedger("acme", LedgerPolicy(thresholds=(50, 90)))
    Subscription.start("acme", pro, T0, ledger=ledger)
    assert str(ledger.policy.rating) == "60/6"
    assert ledger.policy.thresholds == (50, 90)


def test_a_plan_without_minutes_grants_nothing() -> None:
    sub, ledger = subscribe(plan("free", "0.00", 0))
    assert ledger.grants() == ()
    assert status(sub) is SubscriptionStatus.ACTIVE


@pytest.mark.parametrize(
    ("account", "kwargs", "field"),
    [
        ("", {}, "account_id"),
        ("acme", {"timezone": "Mars/Olympus"}, "timezone"),
        ("acme", {"grace_period": timedelta(-1)}, "grace_period"),
        ("acme", {"at": datetime(2025, 1, 1)}, "at"),  # noqa: DTZ001 - naive on purpose
        ("other", {}, "ledger"),
    ],
)
def test_a_bad_start_is_refused_and_the_ledger_is_untouched(
    account: str, kwargs: dict[str, object], field: str
) -> None:
    ledger = MinuteLedger("acme")
    before = ledger.to_state()
    at = kwargs.pop("at", T0)
    with pytest.raises(ValidationError) as error:
        Subscription.start(account, STARTER, at, ledger=ledger, **kwargs)  # type: ignore[arg-type]
    assert error.value.field == field
    assert ledger.to_state() == before
    assert ledger.pull_events() == []


# --- cancel, resume, lapse ------------------------------------------------------------------


def test_a_canceled_plan_runs_to_the_period_end_and_then_expires() -> None:
    sub, _ = subscribe()
    sub.pull_events()
    end = sub.current_period.end
    assert sub.cancel(T0 + timedelta(days=3))
    assert status(sub) is SubscriptionStatus.CANCELED
    assert sub.next_billing_at is None
    assert sub.expires_at == end
    assert not sub.auto_renew
    assert not sub.renewal_due(end)
    assert sub.is_in_service(end - timedelta(seconds=1))
    assert not sub.is_in_service(end)
    assert not sub.cancel(T0 + timedelta(days=4))  # again: nothing more
    assert not sub.lapse(end - timedelta(seconds=1))
    assert sub.lapse(end)
    assert status(sub) is SubscriptionStatus.EXPIRED
    assert sub.expires_at == end
    events = sub.pull_events()
    assert [type(e) for e in events] == [SubscriptionCanceled, SubscriptionExpired]
    assert isinstance(events[1], SubscriptionExpired)
    assert events[1].reason == "canceled"
    assert not sub.lapse(end + timedelta(days=1))


def test_resume_before_the_period_end_turns_auto_renew_back_on() -> None:
    sub, _ = subscribe()
    sub.cancel(T0 + timedelta(days=1))
    sub.pull_events()
    assert sub.resume(T0 + timedelta(days=2))
    assert status(sub) is SubscriptionStatus.ACTIVE
    assert sub.next_billing_at == sub.current_period.end
    assert not sub.resume(T0 + timedelta(days=2))
    [event] = sub.pull_events()
    assert isinstance(event, SubscriptionResumed)


def test_resume_after_the_canceled_period_ended_is_refused() -> None:
    sub, ledger = subscribe()
    sub.cancel(T0)
    error = assert_refused_unchanged(
        sub, ledger, lambda: sub.resume(sub.current_period.end), InvalidTransition
    )
    assert isinstance(error, InvalidTransition)
    assert error.state == "ended"


def test_an_expired_subscription_cannot_be_canceled_resumed_or_renewed() -> None:
    sub, ledger = subscribe()
    sub.cancel(T0)
    sub.lapse(sub.current_period.end)
    later = sub.current_period.end + timedelta(days=1)
    for action in (
        lambda: sub.cancel(later),
        lambda: sub.resume(later),
        lambda: sub.renew(later, PaymentOutcome.SUCCEEDED, ledger),
        lambda: sub.change_plan(PRO, later),
    ):
        assert_refused_unchanged(sub, ledger, action, InvalidTransition)


# --- starting again after the end ---------------------------------------------------------


def expired(p: Plan = STARTER) -> tuple[Subscription, MinuteLedger, datetime]:
    """A subscription canceled on day one and lapsed at its period end; and that end."""
    sub, ledger = subscribe(p)
    sub.cancel(T0)
    end = sub.current_period.end
    sub.lapse(end)
    return sub, ledger, end


def test_an_expired_subscription_starts_again_anchored_then_with_fresh_minutes() -> None:
    sub, ledger = subscribe()
    ledger.grant("bundle:b1", GrantSource.BUNDLE, 600, T0)  # an add-on that never expires
    sub.pull_events()
    sub.cancel(T0)
    sub.lapse(sub.current_period.end)
    before = sub.to_state()
    at = sub.current_period.end + timedelta(days=10, hours=5)
    again = sub.start_again(PRO, at, ledger=ledger)
    assert status(again) is SubscriptionStatus.ACTIVE
    assert (again.plan, again.generation, again.period_index) == (PRO, 1, 0)
    assert again.cycle.anchor == again.current_period.start == at
    assert again.next_billing_at == again.expires_at == datetime(2025, 3, 20, 5, tzinfo=KOLKATA)
    assert again.cycle.timezone == "Asia/Kolkata"
    assert (again.grace_period, again.rollover) == (sub.grace_period, sub.rollover)
    snapshot = ledger.snapshot(at)
    assert snapshot.total_seconds == snapshot.remaining_seconds == 5000 * 60 + 600
    grants = {g.grant_id: g for g in ledger.grants()}
    assert set(grants) == {"plan:acme#1:0", "bundle:b1"}  # the old plan grant expired, pruned
    assert grants["plan:acme#1:0"].expires_at == again.current_period.end
    assert again.renewal_key == "renewal:acme#1:1"  # not the first subscription's
    assert sub.to_state() == before  # the old one is left as it was
    events = again.pull_events()
    assert [type(e) for e in events] == [
        SubscriptionCanceled,  # not pulled from the old one yet: they come along
        SubscriptionExpired,
        SubscriptionStarted,
    ]
    assert sub.pull_events() == []


def test_a_subscription_started_again_renews_under_ids_of_its_own() -> None:
    sub, ledger = subscribe()
    sub.renew(sub.current_period.end, PaymentOutcome.SUCCEEDED, ledger)  # plan:acme:1
    sub.cancel(sub.current_period.start)
    sub.lapse(sub.current_period.end)
    again = sub.start_again(STARTER, sub.current_period.end, ledger=ledger)
    assert again.renewal_key == "renewal:acme#1:1" != sub.renewal_key
    due = again.current_period.end
    assert again.renew(due, PaymentOutcome.SUCCEEDED, ledger).value == "renewed"
    assert ledger.snapshot(due).total_seconds == 1000 * 60  # granted, not taken for a repeat
    assert "plan:acme#1:1" in {g.grant_id for g in ledger.grants()}
    third = Subscription.from_state(again.to_state())
    assert third.generation == 1
    assert third == again


@pytest.mark.parametrize("state", ["active", "canceled", "past_due"])
def test_only_an_expired_subscription_starts_again(state: str) -> None:
    sub, ledger = subscribe()
    if state == "canceled":
        sub.cancel(T0)
    elif state == "past_due":
        sub.renew(sub.current_period.end, PaymentOutcome.FAILED, ledger)
    later = sub.current_period.end + timedelta(days=1)  # a canceled one has not lapsed yet
    error = assert_refused_unchanged(
        sub, ledger, lambda: sub.start_again(PRO, later, ledger=ledger), InvalidTransition
    )
    assert isinstance(error, InvalidTransition)
    assert error.state == state


def test_a_bad_start_again_is_refused_and_changes_nothing() -> None:
    sub, ledger, end = expired()
    for action, field in [
        (lambda: sub.start_again(PRO, end - timedelta(seconds=1), ledger=ledger), "at"),
        (lambda: sub.start_again(PRO, end, ledger=MinuteLedger("other")), "ledger"),
        (lambda: sub.start_again("pro", end, ledger=ledger), "plan"),  # type: ignore[arg-type]
    ]:
        error = assert_refused_unchanged(sub, ledger, action, ValidationError)
        assert isinstance(error, ValidationError)
        assert error.field == field


def test_canceling_while_past_due_ends_the_subscription_at_once() -> None:
    sub, ledger = subscribe()
    due = sub.current_period.end
    sub.renew(due, PaymentOutcome.FAILED, ledger)
    sub.pull_events()
    assert sub.cancel(due + timedelta(days=1))
    assert status(sub) is SubscriptionStatus.EXPIRED
    assert sub.expires_at == due + timedelta(days=1)
    assert [e.name for e in sub.pull_events()] == ["SubscriptionCanceled", "SubscriptionExpired"]


def test_a_past_due_subscription_cannot_be_resumed() -> None:
    sub, ledger = subscribe()
    sub.renew(sub.current_period.end, PaymentOutcome.FAILED, ledger)
    assert_refused_unchanged(
        sub, ledger, lambda: sub.resume(sub.current_period.end), InvalidTransition
    )


def test_a_scheduled_downgrade_can_be_called_off() -> None:
    sub, ledger = subscribe(PRO)
    at = T0 + timedelta(days=5)
    sub.apply_plan_change(sub.change_plan(STARTER, at), at, ledger)
    sub.pull_events()
    assert sub.renewal_plan == STARTER
    assert sub.cancel_scheduled_change(at)
    assert not sub.cancel_scheduled_change(at)
    assert sub.renewal_plan == PRO
    [event] = sub.pull_events()
    assert isinstance(event, ScheduledPlanChangeCanceled)
    assert event.canceled_plan_code == "starter"


@pytest.mark.parametrize("new_plan", ["pro", None, PRO.features])
def test_a_change_to_something_that_is_not_a_plan_is_refused_and_changes_nothing(
    new_plan: object,
) -> None:
    sub, ledger = subscribe()
    at = T0 + timedelta(days=5)

    error = assert_refused_unchanged(
        sub,
        ledger,
        lambda: sub.change_plan(new_plan, at),  # type: ignore[arg-type]
        ValidationError,
    )

    assert isinstance(error, ValidationError)
    assert (error.field, error.value) == ("new_plan", new_plan)


def test_the_renewal_key_names_the_next_period() -> None:
    sub, ledger = subscribe()
    assert sub.renewal_key == "renewal:acme:1"
    sub.renew(sub.current_period.end, PaymentOutcome.SUCCEEDED, ledger)
    assert sub.renewal_key == "renewal:acme:2"


def test_a_subscription_is_not_in_service_before_it_starts() -> None:
    sub, _ = subscribe()
    assert not sub.is_in_service(T0 - timedelta(seconds=1))
    assert sub.is_in_service(T0)


def test_the_constructor_refuses_a_plan_of_another_interval() -> None:
    sub, _ = subscribe()
    with pytest.raises(ValidationError):
        Subscription("acme", plan("yearly", "1.00", 1, months=12), sub.cycle)


# --- state ----------------------------------------------------------------------------------

steps = st.lists(
    st.sampled_from(
        ["renew", "fail", "cancel", "resume", "upgrade", "downgrade", "lapse", "start_again"]
    ),
    max_size=12,
)


@given(steps, st.integers(0, 3), st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York"]))
def test_a_subscription_round_trips_through_its_state_at_every_step(
    actions: list[str], cap_minutes: int, tz: str
) -> None:
    ledger = MinuteLedger("acme")
    sub = Subscription.start(
        "acme",
        STARTER,
        datetime(2024, 1, 31, 10, tzinfo=UTC),
        ledger=ledger,
        timezone=tz,
        rollover=RolloverPolicy.capped(cap_minutes),
    )
    for action in actions:
        now = sub.current_period.start + timedelta(days=3)
        try:
            if action == "renew":
                sub.renew(sub.current_period.end, PaymentOutcome.SUCCEEDED, ledger)
            elif action == "fail":
                sub.renew(sub.current_period.end, PaymentOutcome.FAILED, ledger)
            elif action == "cancel":
                sub.cancel(now)
            elif action == "resume":
                sub.resume(now)
            elif action == "lapse":
                sub.lapse(sub.current_period.end + timedelta(days=8))
            elif action == "start_again":
                sub = sub.start_again(
                    PRO, sub.current_period.end + timedelta(days=9), ledger=ledger
                )
            else:
                target = PRO if action == "upgrade" else plan("lite", "999.00", 100)
                if target.code != sub.plan.code:
                    quote = sub.change_plan(target, now, policy=ProrationPolicy.BY_DAY)
                    sub.apply_plan_change(quote, now, ledger)
        except (InvalidTransition, ValidationError):
            pass
        state = sub.to_state()
        assert json.loads(json.dumps(state)) == state
        copy = Subscription.from_state(state)
        assert copy.to_state() == state
        assert copy == sub
        assert copy.next_billing_at == sub.next_billing_at
        assert copy.expires_at == sub.expires_at
        assert copy.renewal_plan == sub.renewal_plan
    # The copy behaves the same: renew both, on copies of the ledger.
    copy = Subscription.from_state(sub.to_state())
    ledger_copy = MinuteLedger.from_state(ledger.to_state())
    due = sub.current_period.end
    outcomes = []
    for s, led in ((sub, ledger), (copy, ledger_copy)):
        try:
            outcomes.append(s.renew(due, PaymentOutcome.SUCCEEDED, led).value)
        except InvalidTransition as error:
            outcomes.append(error.state)
    assert outcomes[0] == outcomes[1]
    assert copy.to_state() == sub.to_state()
    assert ledger_copy.to_state() == ledger.to_state()


def test_a_ledger_already_counting_a_later_period_is_refused_before_anything_changes() -> None:
    ledger = MinuteLedger("acme")
    later = BillingPeriod(T0 + timedelta(days=40), T0 + timedelta(days=70))
    ledger.open_period(later, later.start)
    ledger.pull_events()
    before = ledger.to_state()
    with pytest.raises(ValidationError) as error:
        Subscription.start("acme", STARTER, T0, ledger=ledger)
    assert error.value.field == "ledger"
    assert ledger.to_state() == before
    sub, own = subscribe()
    own.open_period(later, later.start)
    assert_refused_unchanged(
        sub,
        own,
        lambda: sub.renew(sub.current_period.end, PaymentOutcome.SUCCEEDED, own),
        ValidationError,
    )


def test_the_constructor_checks_the_types_a_store_might_garble() -> None:
    sub, _ = subscribe()
    for kwargs in ({"rollover": 5}, {"status": "active"}, {"cycle": "monthly"}):
        args: dict[str, object] = {"account_id": "acme", "plan": STARTER, "cycle": sub.cycle}
        args.update(kwargs)
        with pytest.raises(ValidationError):
            Subscription(**args)  # type: ignore[arg-type]


def test_start_refuses_something_that_is_not_a_plan() -> None:
    ledger = MinuteLedger("acme")
    with pytest.raises(ValidationError) as error:
        Subscription.start("acme", "starter", T0, ledger=ledger)  # type: ignore[arg-type]
    assert error.value.field == "plan"
    with pytest.raises(ValidationError) as error:
        Subscription.start("acme", STARTER, T0, ledger=ledger, rollover=100)  # type: ignore[arg-type]
    assert error.value.field == "rollover"
    assert ledger.to_state() == MinuteLedger("acme").to_state()


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("plan", "starter"),
        ("plan", None),
        ("generation", -1),
        ("generation", True),
        ("generation", 1.5),
        ("generation", "0"),
    ],
)
def test_the_constructor_refuses_a_plan_or_generation_a_store_might_garble(
    name: str, bad: object
) -> None:
    sub, _ = subscribe()
    args: dict[str, object] = {"account_id": "acme", "plan": STARTER, "cycle": sub.cycle}
    args[name] = bad

    with pytest.raises(ValidationError) as caught:
        Subscription(**args)  # type: ignore[arg-type]

    assert (caught.value.field, caught.value.value) == (name, bad)
    assert type(caught.value.value) is type(bad)


@pytest.mark.parametrize("bad", [-1, True, 1.5, "60"])
def test_a_rollover_cap_must_be_a_whole_number_of_seconds_at_least_zero(bad: object) -> None:
    with pytest.raises(ValidationError) as caught:
        RolloverPolicy(bad)  # type: ignore[arg-type]

    assert (caught.value.field, caught.value.value) == ("cap_seconds", bad)
    assert type(caught.value.value) is type(bad)


@pytest.mark.parametrize("bad", [-1, True, 1.5, "60"])
def test_a_capped_rollover_needs_a_whole_number_of_minutes_at_least_zero(bad: object) -> None:
    with pytest.raises(ValidationError) as caught:
        RolloverPolicy.capped(bad)  # type: ignore[arg-type]

    assert (caught.value.field, caught.value.value) == ("minutes", bad)
    assert type(caught.value.value) is type(bad)
