"""Plan changes: an upgrade applies at once and charges what its quote showed; a downgrade waits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill import BillingIncrement, BillingInterval, Money, OveragePolicy, Plan, PlanFeatures
from minutebill.domain.grants import GrantSource
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.proration import PlanChangeKind, ProrationPolicy
from minutebill.domain.subscription_events import PlanChanged, PlanChangeScheduled
from minutebill.domain.subscriptions import PaymentOutcome, Subscription
from minutebill.errors import InvalidTransition, LimitExceeded, MinutebillError, ValidationError

T0 = datetime(2025, 2, 1, tzinfo=UTC)
FEB_END = datetime(2025, 3, 1, tzinfo=UTC)


def plan(code: str, price: str, minutes: int, **features: object) -> Plan:
    args: dict[str, object] = {"concurrent_calls": 2, "phone_numbers": 1}
    args.update(features)
    return Plan(
        code=code,
        name=code.title(),
        price=Money(price, "INR"),
        interval=BillingInterval.monthly(),
        included_minutes=minutes,
        features=PlanFeatures(**args),  # type: ignore[arg-type]
    )


STARTER = plan("starter", "1999.00", 1000)
PRO = plan(
    "pro",
    "7999.00",
    5000,
    concurrent_calls=10,
    queue_priority=5,
    rating=BillingIncrement.SIXTY_SIX,
    overage=OveragePolicy.charge_wallet(Money("1.50", "INR")),
)
ENTERPRISE = plan("enterprise", "24999.00", 20000, concurrent_calls=50, queue_priority=10)


def subscribe(p: Plan = STARTER) -> tuple[Subscription, MinuteLedger]:
    ledger = MinuteLedger("acme")
    return Subscription.start("acme", p, T0, ledger=ledger), ledger


def refused_unchanged(
    sub: Subscription,
    ledger: MinuteLedger,
    action: Callable[[], object],
    error: type[MinutebillError],
) -> None:
    before = (sub.to_state(), ledger.to_state())
    sub.pull_events()
    ledger.pull_events()
    with pytest.raises(error):
        action()
    assert (sub.to_state(), ledger.to_state()) == before
    assert sub.pull_events() == []
    assert ledger.pull_events() == []


# --- upgrades -------------------------------------------------------------------------------


def test_an_upgrade_switches_the_plan_now_and_grants_the_prorated_extra_minutes() -> None:
    sub, ledger = subscribe()
    sub.pull_events()
    at = datetime(2025, 2, 15, tzinfo=UTC)
    quote = sub.change_plan(PRO, at)
    assert quote.charge == Money("3000.00", "INR")
    assert quote.granted_seconds == 120_000
    sub.apply_plan_change(quote, at, ledger)
    assert sub.plan == PRO
    assert ledger.policy.rating == BillingIncrement.SIXTY_SIX
    assert ledger.policy.overage == PRO.features.overage
    extra = next(g for g in ledger.grants() if g.reference == quote.quote_id)
    assert extra.source is GrantSource.PLAN
    assert extra.granted == 120_000
    assert extra.expires_at == FEB_END
    assert ledger.snapshot(at).remaining_seconds == 60_000 + 120_000
    [event] = sub.pull_events()
    assert isinstance(event, PlanChanged)
    assert event.charge == quote.charge
    assert event.kind == "upgrade"
    assert sub.renewal_plan == PRO


def test_applying_a_quote_a_little_later_charges_exactly_what_it_showed() -> None:
    sub, ledger = subscribe()
    priced = datetime(2025, 2, 15, tzinfo=UTC)
    quote = sub.change_plan(PRO, priced)
    later = priced + timedelta(minutes=20)
    assert sub.change_plan(PRO, later).charge != quote.charge  # a fresh quote would differ
    sub.pull_events()
    sub.apply_plan_change(quote, later, ledger)
    [event] = sub.pull_events()
    assert isinstance(event, PlanChanged)
    assert event.charge == Money("3000.00", "INR")
    assert event.granted_seconds == quote.granted_seconds


def test_an_expired_quote_is_refused() -> None:
    sub, ledger = subscribe()
    quote = sub.change_plan(PRO, datetime(2025, 2, 15, tzinfo=UTC))
    refused_unchanged(
        sub,
        ledger,
        lambda: sub.apply_plan_change(quote, quote.valid_until, ledger),
        ValidationError,
    )
    refused_unchanged(
        sub,
        ledger,
        lambda: sub.apply_plan_change(quote, quote.priced_at - timedelta(seconds=1), ledger),
        ValidationError,
    )


def test_applying_the_same_quote_twice_changes_nothing_the_second_time() -> None:
    sub, ledger = subscribe()
    at = datetime(2025, 2, 15, tzinfo=UTC)
    quote = sub.change_plan(PRO, at)
    sub.apply_plan_change(quote, at, ledger)
    sub.pull_events()
    ledger.pull_events()
    before = (sub.to_state(), ledger.to_state())
    sub.apply_plan_change(quote, at + timedelta(minutes=1), ledger)
    assert (sub.to_state(), ledger.to_state()) == before
    assert sub.pull_events() == []


def test_a_stale_quote_is_refused() -> None:
    sub, ledger = subscribe()
    at = datetime(2025, 2, 15, tzinfo=UTC)
    to_pro = sub.change_plan(PRO, at)
    to_enterprise = sub.change_plan(ENTERPRISE, at)
    sub.apply_plan_change(to_pro, at, ledger)
    refused_unchanged(
        sub, ledger, lambda: sub.apply_plan_change(to_enterprise, at, ledger), ValidationError
    )
    other = MinuteLedger("acme")
    someone = Subscription.start("someone", STARTER, T0, ledger=MinuteLedger("someone"))
    foreign = someone.change_plan(PRO, at)
    refused_unchanged(
        sub, ledger, lambda: sub.apply_plan_change(foreign, at, ledger), ValidationError
    )
    refused_unchanged(
        sub,
        ledger,
        lambda: sub.apply_plan_change(sub.change_plan(ENTERPRISE, at), at, MinuteLedger("x")),
        ValidationError,
    )
    assert other.to_state() == MinuteLedger("acme").to_state()


def test_a_quote_from_the_previous_period_is_refused() -> None:
    sub, ledger = subscribe()
    quote = sub.change_plan(PRO, FEB_END - timedelta(minutes=1))
    sub.renew(FEB_END, PaymentOutcome.SUCCEEDED, ledger)
    refused_unchanged(
        sub, ledger, lambda: sub.apply_plan_change(quote, FEB_END, ledger), ValidationError
    )


def test_an_upgrade_on_the_last_second_of_a_period_charges_nothing_and_renews_on_it() -> None:
    sub, ledger = subscribe()
    last = FEB_END - timedelta(seconds=1)
    quote = sub.change_plan(PRO, last)
    assert quote.charge == Money("0.00", "INR")
    assert quote.granted_seconds == 0
    assert quote.valid_until == FEB_END
    sub.apply_plan_change(quote, last, ledger)
    assert sub.plan == PRO
    assert sub.renew(FEB_END, PaymentOutcome.SUCCEEDED, ledger).value == "renewed"
    assert ledger.snapshot(FEB_END).total_seconds == 5000 * 60


def test_an_upgrade_clears_a_scheduled_downgrade() -> None:
    sub, ledger = subscribe(PRO)
    at = datetime(2025, 2, 10, tzinfo=UTC)
    sub.apply_plan_change(sub.change_plan(STARTER, at), at, ledger)
    assert sub.renewal_plan == STARTER
    sub.apply_plan_change(sub.change_plan(ENTERPRISE, at), at, ledger)
    assert sub.scheduled_change is None
    assert sub.renewal_plan == ENTERPRISE


# --- when a change cannot be priced ---------------------------------------------------------


def test_no_plan_change_while_past_due_canceled_or_due_for_renewal() -> None:
    sub, ledger = subscribe()
    refused_unchanged(sub, ledger, lambda: sub.change_plan(PRO, FEB_END), InvalidTransition)
    refused_unchanged(
        sub, ledger, lambda: sub.change_plan(PRO, T0 - timedelta(seconds=1)), ValidationError
    )
    refused_unchanged(sub, ledger, lambda: sub.change_plan(STARTER, T0), ValidationError)
    refused_unchanged(
        sub,
        ledger,
        lambda: sub.change_plan(PRO, T0, policy="by_day"),  # type: ignore[arg-type]
        ValidationError,
    )
    refused_unchanged(
        sub,
        ledger,
        lambda: sub.apply_plan_change("quote", T0, ledger),  # type: ignore[arg-type]
        ValidationError,
    )
    quote = sub.change_plan(PRO, T0)
    sub.cancel(T0)
    refused_unchanged(sub, ledger, lambda: sub.change_plan(PRO, T0), InvalidTransition)
    refused_unchanged(
        sub, ledger, lambda: sub.apply_plan_change(quote, T0, ledger), InvalidTransition
    )
    sub.resume(T0)
    sub.renew(FEB_END, PaymentOutcome.FAILED, ledger)
    refused_unchanged(sub, ledger, lambda: sub.change_plan(PRO, FEB_END), InvalidTransition)


# --- properties -----------------------------------------------------------------------------

instants = st.integers(0, 28 * 86_400 - 1).map(lambda s: T0 + timedelta(seconds=s))
policies = st.sampled_from(list(ProrationPolicy))


@given(instants, st.sampled_from([(PRO, STARTER), (ENTERPRISE, PRO), (ENTERPRISE, STARTER)]))
def test_a_downgrade_never_changes_the_current_period(
    at: datetime, plans: tuple[Plan, Plan]
) -> None:
    current, lower = plans
    sub, ledger = subscribe(current)
    ledger_before = ledger.to_state()
    period, plan_before = sub.current_period, sub.plan
    quote = sub.change_plan(lower, at)
    assert quote.kind is PlanChangeKind.DOWNGRADE
    sub.pull_events()
    sub.apply_plan_change(quote, at, ledger)
    assert ledger.to_state() == ledger_before
    assert (sub.current_period, sub.plan) == (period, plan_before)
    assert sub.next_billing_at == sub.expires_at == period.end
    [event] = sub.pull_events()
    assert isinstance(event, PlanChangeScheduled)
    assert event.effective_at == period.end


@given(instants, policies, st.integers(0, 29 * 60))
def test_an_applied_upgrade_grants_on_the_ledger_exactly_what_was_quoted(
    at: datetime, policy: ProrationPolicy, delay: int
) -> None:
    sub, ledger = subscribe()
    quote = sub.change_plan(PRO, at, policy=policy)
    apply_at = min(at + timedelta(seconds=delay), quote.valid_until - timedelta(seconds=1))
    before = ledger.snapshot(apply_at).remaining_seconds
    sub.apply_plan_change(quote, max(apply_at, at), ledger)
    assert ledger.snapshot(max(apply_at, at)).remaining_seconds == before + quote.granted_seconds
    assert Money.zero("INR") <= quote.charge <= PRO.price - STARTER.price


# --- the plan's limit on phone numbers --------------------------------------------------------

FIVE_NUMBERS = plan("pro", "7999.00", 5000, phone_numbers=5)
ONE_NUMBER = plan("starter", "1999.00", 1000, phone_numbers=1)
TWO_NUMBERS_DEARER = plan("enterprise", "24999.00", 20000, phone_numbers=2)
MID_FEB = datetime(2025, 2, 10, tzinfo=UTC)


@pytest.mark.parametrize("to", [ONE_NUMBER, TWO_NUMBERS_DEARER], ids=["downgrade", "upgrade"])
def test_a_plan_with_fewer_numbers_than_the_account_holds_is_not_quoted(to: Plan) -> None:
    sub, _ = subscribe(FIVE_NUMBERS)
    with pytest.raises(LimitExceeded) as caught:
        sub.change_plan(to, MID_FEB, numbers_held=3)
    assert (caught.value.limit_name, caught.value.limit, caught.value.requested) == (
        "phone_numbers",
        to.features.phone_numbers,
        3,
    )
    assert sub.change_plan(to, MID_FEB, numbers_held=to.features.phone_numbers).to_plan == to


@pytest.mark.parametrize("to", [ONE_NUMBER, TWO_NUMBERS_DEARER], ids=["downgrade", "upgrade"])
def test_a_quote_is_not_applied_once_the_account_holds_more_numbers_than_it_allows(
    to: Plan,
) -> None:
    sub, ledger = subscribe(FIVE_NUMBERS)
    quote = sub.change_plan(to, MID_FEB, numbers_held=1)
    refused_unchanged(
        sub,
        ledger,
        lambda: sub.apply_plan_change(quote, MID_FEB, ledger, numbers_held=3),
        LimitExceeded,
    )
    sub.apply_plan_change(quote, MID_FEB, ledger, numbers_held=1)
    assert sub.renewal_plan == to


@pytest.mark.parametrize("count", [-1, True, 1.0, "1"])
def test_the_count_of_numbers_must_be_a_whole_number(count: object) -> None:
    sub, ledger = subscribe(FIVE_NUMBERS)
    quote = sub.change_plan(ONE_NUMBER, MID_FEB)
    with pytest.raises(ValidationError, match="numbers_held"):
        sub.change_plan(ONE_NUMBER, MID_FEB, numbers_held=count)  # type: ignore[arg-type]
    refused_unchanged(
        sub,
        ledger,
        lambda: sub.apply_plan_change(quote, MID_FEB, ledger, numbers_held=count),  # type: ignore[arg-type]
        ValidationError,
    )


def test_a_scheduled_downgrade_lowers_the_number_limit_until_it_is_called_off() -> None:
    sub, ledger = subscribe(FIVE_NUMBERS)
    assert sub.phone_numbers_limit == 5
    sub.apply_plan_change(sub.change_plan(ONE_NUMBER, MID_FEB), MID_FEB, ledger)
    assert (sub.plan, sub.phone_numbers_limit) == (FIVE_NUMBERS, 1)
    sub.cancel_scheduled_change(MID_FEB)
    assert sub.phone_numbers_limit == 5
    later = MID_FEB + timedelta(days=1)
    sub.apply_plan_change(sub.change_plan(ONE_NUMBER, later), later, ledger)
    sub.renew(FEB_END, PaymentOutcome.SUCCEEDED, ledger)
    assert (sub.plan, sub.phone_numbers_limit) == (ONE_NUMBER, 1)
