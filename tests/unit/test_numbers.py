"""Number subscriptions: activation, the transition table, holds, reactivation, release, state."""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill.domain.catalog import Capability, NumberOffer, Plan, PlanFeatures
from minutebill.domain.money import Money
from minutebill.domain.number_events import (
    NumberActivated,
    NumberAutoPayChanged,
    NumberPutOnHold,
    NumberReactivated,
    NumberReleased,
    NumberRenewed,
    PreDebitNoticeDue,
)
from minutebill.domain.number_policy import HeldFee, NumberPolicy, PaymentOrder
from minutebill.domain.number_status import (
    TRANSITIONS,
    HoldReason,
    NumberStatus,
    PaymentDisposition,
    PreDebitNotice,
    ReleaseReason,
    validate_e164,
)
from minutebill.domain.numbers import (
    NumberSubscription,
    ParsedValues,
    check_number_limit,
    count_held_numbers,
)
from minutebill.domain.periods import BillingInterval
from minutebill.errors import InvalidTransition, LimitExceeded, MinutebillError, ValidationError

NUMBER = "+918012345678"
JAN_31 = datetime(2025, 1, 31, 10, tzinfo=UTC)
GRACE = timedelta(days=7)


def inr(amount: str | int) -> Money:
    return Money(amount, "INR")


def offer(fee: str = "500.00", months: int = 1) -> NumberOffer:
    return NumberOffer(
        code="in-local",
        country="IN",
        kind="local",
        capabilities=frozenset({Capability.VOICE, Capability.SMS}),
        monthly_fee=inr(fee),
        upfront_fee=inr("100.00"),
        interval=BillingInterval(months),
    )


def active(
    at: datetime = JAN_31, *, policy: NumberPolicy | None = None, auto_pay: bool = True
) -> NumberSubscription:
    number = NumberSubscription.activate(
        NUMBER, "acct-1", offer(), at, auto_pay=auto_pay, policy=policy
    )
    number.pull_events()
    return number


def held(reason: HoldReason = HoldReason.INSUFFICIENT_CREDIT, **kw: object) -> NumberSubscription:
    number = active(**kw)  # type: ignore[arg-type]
    number.put_on_hold(reason, number.paid_through)
    number.pull_events()
    return number


def released() -> NumberSubscription:
    number = active()
    number.release(JAN_31 + timedelta(days=3))
    number.pull_events()
    return number


def status(number: NumberSubscription) -> NumberStatus:
    """The status now (a call, so type checkers do not carry narrowing across mutations)."""
    return number.status


def assert_refused(
    number: NumberSubscription, error: type[MinutebillError], action: Callable[[], object]
) -> None:
    """`action` raises `error`, and the subscription is exactly as it was, with no event."""
    before = number.to_state()
    with pytest.raises(error):
        action()
    assert number.to_state() == before
    assert number.pull_events() == []


# --- activation and anchors ------------------------------------------------------------------


def test_a_paid_order_activates_the_number_for_one_interval() -> None:
    number = NumberSubscription.activate(NUMBER, "acct-1", offer(), JAN_31)
    assert number.status is NumberStatus.ACTIVE
    assert number.auto_pay is True
    assert number.hold is None
    assert number.paid_through == datetime(2025, 2, 28, 10, tzinfo=UTC)
    [event] = number.pull_events()
    assert isinstance(event, NumberActivated)
    assert event.upfront_fee == inr("100.00")
    assert event.recurring_fee == inr("500.00")
    assert event.paid_through == number.paid_through


def test_renewals_keep_the_anchor_jan_31_feb_28_mar_31() -> None:
    number = active()
    ends = []
    for index in (1, 2, 3):
        number.record_renewal_paid(index, number.paid_through)
        ends.append(number.paid_through.date().isoformat())
    assert ends == ["2025-03-31", "2025-04-30", "2025-05-31"]
    assert number.anchor == JAN_31


def test_a_quarterly_number_costs_three_monthly_fees_a_period() -> None:
    number = NumberSubscription.activate(NUMBER, "acct-1", offer("99.99", 3), JAN_31)
    assert number.recurring_fee == inr("299.97")
    assert number.paid_through == datetime(2025, 4, 30, 10, tzinfo=UTC)


@given(
    st.datetimes(
        min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2030, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    st.sampled_from(["UTC", "Asia/Kolkata", "Asia/Tokyo"]),
    st.integers(1, 30),
)
def test_paid_through_never_drifts_from_the_anchor(
    anchor: datetime, timezone: str, periods: int
) -> None:
    number = NumberSubscription.activate(NUMBER, "a", offer(), anchor, timezone=timezone)
    for index in range(1, periods):
        number.record_renewal_paid(index, number.paid_through)
    local_anchor = anchor.astimezone(ZoneInfo(timezone))
    end = number.paid_through.astimezone(ZoneInfo(timezone))
    months = local_anchor.month - 1 + periods
    year, month = local_anchor.year + months // 12, months % 12 + 1
    assert (end.year, end.month) == (year, month)
    assert end.day == min(local_anchor.day, calendar.monthrange(year, month)[1])
    assert end.timetz() == local_anchor.timetz()


@pytest.mark.parametrize("bad", ["918012345678", "+0123456789", "+1234567", "+1234567890123456"])
def test_numbers_must_be_e164(bad: str) -> None:
    with pytest.raises(ValidationError):
        NumberSubscription.activate(bad, "acct-1", offer(), JAN_31)


@given(st.from_regex(r"\+[1-9][0-9]{7,14}", fullmatch=True))
def test_every_e164_number_is_accepted(number: str) -> None:
    assert validate_e164(number) == number


def test_a_number_without_a_recurring_fee_is_refused() -> None:
    with pytest.raises(ValidationError):
        NumberSubscription.activate(NUMBER, "acct-1", offer("0.00"), JAN_31)


def test_activation_refuses_naive_times_and_unknown_zones() -> None:
    with pytest.raises(ValidationError):
        NumberSubscription.activate(NUMBER, "a", offer(), datetime(2025, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValidationError):
        NumberSubscription.activate(NUMBER, "a", offer(), JAN_31, timezone="Mars/Olympus")


# --- renewals and holds ----------------------------------------------------------------------


def test_a_paid_renewal_moves_paid_through_one_interval() -> None:
    number = active()
    assert number.record_renewal_paid(1, JAN_31 + timedelta(days=28)) is PaymentDisposition.APPLY
    assert number.paid_through == datetime(2025, 3, 31, 10, tzinfo=UTC)
    [event] = number.pull_events()
    assert isinstance(event, NumberRenewed)
    assert (event.period_index, event.amount) == (1, inr("500.00"))


def test_paying_a_paid_period_again_is_a_no_op() -> None:
    number = active()
    number.record_renewal_paid(1, number.paid_through)
    number.pull_events()
    before = number.to_state()
    assert number.record_renewal_paid(1, number.paid_through) is PaymentDisposition.DUPLICATE
    assert number.record_renewal_paid(0, number.paid_through) is PaymentDisposition.DUPLICATE
    assert number.to_state() == before
    assert number.pull_events() == []


def test_a_period_cannot_be_paid_before_the_one_before_it() -> None:
    number = active()
    assert_refused(number, ValidationError, lambda: number.record_renewal_paid(2, JAN_31))
    assert_refused(number, ValidationError, lambda: number.record_renewal_paid(-1, JAN_31))


def test_an_unpaid_renewal_puts_the_number_on_hold_with_a_release_time() -> None:
    number = active()
    due = number.paid_through
    hold = number.put_on_hold(HoldReason.PAYMENT_FAILED, due + timedelta(hours=2))
    assert number.status is NumberStatus.ON_HOLD
    assert hold.reason is HoldReason.PAYMENT_FAILED
    # Unpaid since the renewal fell due: the grace period does not wait for the due work.
    assert (hold.since, hold.release_after) == (due, due + GRACE)
    [event] = number.pull_events()
    assert isinstance(event, NumberPutOnHold)
    assert event.reason == "payment_failed"


def test_a_paid_up_number_cannot_be_put_on_hold() -> None:
    number = active()
    late = number.paid_through - timedelta(seconds=1)
    assert_refused(
        number, InvalidTransition, lambda: number.put_on_hold(HoldReason.AUTO_PAY_OFF, late)
    )


def test_a_new_hold_reason_keeps_the_original_release_time() -> None:
    number = held(HoldReason.AUTO_PAY_OFF)
    release_after = number.hold.release_after if number.hold else None
    hold = number.put_on_hold(HoldReason.PAYMENT_FAILED, number.paid_through + timedelta(days=3))
    assert hold.reason is HoldReason.PAYMENT_FAILED
    assert hold.release_after == release_after
    before = number.to_state()
    number.pull_events()
    number.put_on_hold(HoldReason.PAYMENT_FAILED, number.paid_through + timedelta(days=4))
    assert number.to_state() == before
    assert number.pull_events() == []


def test_payment_during_the_hold_reactivates_with_the_missed_interval_paid() -> None:
    number = held()
    paid_at = number.paid_through + timedelta(days=2)
    assert number.record_renewal_paid(1, paid_at) is PaymentDisposition.APPLY
    assert number.status is NumberStatus.ACTIVE
    assert number.hold is None
    assert number.paid_through == datetime(2025, 3, 31, 10, tzinfo=UTC)  # anchor kept
    [event] = number.pull_events()
    assert isinstance(event, NumberReactivated)


def test_an_accruing_hold_that_spans_a_boundary_owes_every_period() -> None:
    policy = NumberPolicy(grace_period=timedelta(days=60), held_fee=HeldFee.ACCRUE)
    number = held(policy=policy)
    at = datetime(2025, 4, 10, tzinfo=UTC)  # periods 1 (Feb 28-) and 2 (Mar 31-) are owed
    assert number.chargeable_period(at) == 1
    number.record_renewal_paid(1, at)
    assert status(number) is NumberStatus.ON_HOLD  # still behind: period 2 is owed
    assert isinstance(number.pull_events()[0], NumberRenewed)
    number.record_renewal_paid(2, at)
    assert status(number) is NumberStatus.ACTIVE
    assert number.paid_through == datetime(2025, 4, 30, 10, tzinfo=UTC)


def test_a_frozen_hold_skips_the_periods_spent_on_hold() -> None:
    policy = NumberPolicy(grace_period=timedelta(days=60), held_fee=HeldFee.FREEZE)
    number = held(policy=policy)
    at = datetime(2025, 4, 10, tzinfo=UTC)
    assert number.chargeable_period(at) == 2
    assert number.payment_disposition(1, at) is PaymentDisposition.REFUND_OR_CREDIT
    before = number.to_state()
    assert number.record_renewal_paid(1, at) is PaymentDisposition.REFUND_OR_CREDIT
    assert number.to_state() == before
    number.record_renewal_paid(2, at)
    assert number.status is NumberStatus.ACTIVE
    assert number.paid_through == datetime(2025, 4, 30, 10, tzinfo=UTC)


def test_a_pre_debit_notice_is_recorded_once_per_period() -> None:
    number = active()
    at = number.paid_through - timedelta(days=2)
    notice = number.record_pre_debit_notice(1, at)
    assert notice.debit_at == number.paid_through  # two days' notice: debit on the due date
    [event] = number.pull_events()
    assert isinstance(event, PreDebitNoticeDue)
    assert event.debit_at == notice.debit_at
    assert number.record_pre_debit_notice(1, at + timedelta(hours=1)) == notice
    assert number.pull_events() == []
    late = active()
    late_notice = late.record_pre_debit_notice(1, late.paid_through - timedelta(hours=1))
    assert late_notice.debit_at - late_notice.sent_at == timedelta(hours=24)


def test_a_notice_is_only_for_the_next_period_of_an_active_number() -> None:
    number = active()
    assert_refused(number, ValidationError, lambda: number.record_pre_debit_notice(2, JAN_31))
    on_hold = held()
    assert_refused(on_hold, InvalidTransition, lambda: on_hold.record_pre_debit_notice(1, JAN_31))


def test_paying_the_period_clears_its_notice() -> None:
    number = active()
    number.record_pre_debit_notice(1, number.paid_through - timedelta(days=1))
    number.record_renewal_paid(1, number.paid_through)
    assert number.notice is None


def test_another_mandate_drops_the_notice_given_for_the_first() -> None:
    number = active()
    number.attach_mandate("mandate-a")
    number.record_pre_debit_notice(1, number.paid_through - timedelta(days=1))
    number.attach_mandate("mandate-a")  # the same mandate: the notice stands
    assert number.notice is not None
    number.attach_mandate("mandate-b")
    assert number.notice is None


# --- Auto-Pay --------------------------------------------------------------------------------


def test_auto_pay_toggles_while_active_without_charging() -> None:
    number = active()
    assert number.set_auto_pay(False, JAN_31) is False
    assert number.auto_pay is False
    [event] = number.pull_events()
    assert isinstance(event, NumberAutoPayChanged)
    assert event.auto_pay is False
    assert number.set_auto_pay(False, JAN_31) is False  # no change, no event
    assert number.pull_events() == []


def test_turning_auto_pay_on_while_held_asks_for_an_immediate_charge() -> None:
    number = held(HoldReason.AUTO_PAY_OFF, auto_pay=False)
    assert number.set_auto_pay(True, number.paid_through + timedelta(days=1)) is True
    assert number.status is NumberStatus.ON_HOLD  # until the charge succeeds
    assert number.set_auto_pay(False, number.paid_through + timedelta(days=1)) is False


# --- release ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [active, held])
def test_release_stops_everything(make: Callable[[], NumberSubscription]) -> None:
    number = make()
    event = number.release(number.paid_through - timedelta(days=1))
    assert number.status is NumberStatus.RELEASED
    assert number.hold is None
    assert event.reason == "requested"
    assert event.unused_periods == ()
    assert event.refund_due == inr(0)
    assert number.pull_events() == [event]
    assert isinstance(event, NumberReleased)


def test_a_grace_release_waits_for_the_end_of_the_grace_period() -> None:
    number = held()
    assert number.hold is not None
    end = number.hold.release_after
    early = end - timedelta(seconds=1)
    grace = ReleaseReason.GRACE_ELAPSED
    assert_refused(number, InvalidTransition, lambda: number.release(early, reason=grace))
    assert number.release(end, reason=grace).reason == "grace_elapsed"
    assert_refused(active(), InvalidTransition, lambda: active().release(JAN_31, reason=grace))


def test_everything_on_a_released_number_is_refused_and_changes_nothing() -> None:
    number = released()
    at = JAN_31 + timedelta(days=40)
    for action in (
        lambda: number.release(at),
        lambda: number.set_auto_pay(False, at),
        lambda: number.set_auto_pay(True, at),
        lambda: number.put_on_hold(HoldReason.PAYMENT_FAILED, at),
        lambda: number.record_renewal_paid(1, at),
        lambda: number.record_pre_debit_notice(1, at),
        lambda: number.chargeable_period(at),
    ):
        assert_refused(number, InvalidTransition, action)


def test_a_payment_after_release_is_refunded_or_credited_never_reactivating() -> None:
    number = released()
    at = JAN_31 + timedelta(days=40)
    for period in (0, 1, 2):
        assert number.payment_disposition(period, at) is PaymentDisposition.REFUND_OR_CREDIT
    assert number.status is NumberStatus.RELEASED


def test_times_before_the_anchor_are_refused() -> None:
    number = active()
    before = JAN_31 - timedelta(seconds=1)
    assert_refused(number, ValidationError, lambda: number.release(before))
    assert_refused(number, ValidationError, lambda: number.set_auto_pay(False, before))


def test_refused_arguments_change_nothing() -> None:
    number = active()
    at = number.paid_through
    bad_reason: object = "payment_failed"
    assert_refused(number, ValidationError, lambda: number.put_on_hold(bad_reason, at))  # type: ignore[arg-type]
    assert_refused(number, ValidationError, lambda: number.release(at, reason=bad_reason))  # type: ignore[arg-type]
    assert_refused(number, ValidationError, lambda: number.set_auto_pay(1, at))  # type: ignore[arg-type]
    naive = datetime(2025, 3, 1)  # noqa: DTZ001 - the naive time refused
    assert_refused(number, ValidationError, lambda: number.record_renewal_paid(1, naive))


def test_the_transition_table_is_design_md() -> None:
    a, h, r = NumberStatus.ACTIVE, NumberStatus.ON_HOLD, NumberStatus.RELEASED
    assert {(a, a), (a, h), (h, a), (h, r), (a, r), (h, h)} == TRANSITIONS
    assert not any(source is r for source, _ in TRANSITIONS)


# --- the plan's limit ------------------------------------------------------------------------


def plan(numbers: int) -> Plan:
    features = PlanFeatures(concurrent_calls=2, phone_numbers=numbers)
    return Plan("pro", "Pro", inr("999.00"), BillingInterval.monthly(), 1000, features)


def test_released_numbers_do_not_count_towards_the_limit() -> None:
    check_number_limit([active(), released()], plan(2))
    check_number_limit([], plan(2).features, adding=2)


def test_the_count_to_add_must_be_a_whole_number() -> None:
    with pytest.raises(ValidationError):
        check_number_limit([], plan(2), adding=-1)


def test_the_limit_may_be_given_as_a_number() -> None:
    check_number_limit([active(), released()], 2)
    with pytest.raises(LimitExceeded) as caught:
        check_number_limit([active(), held()], 1, adding=0)
    assert (caught.value.limit, caught.value.requested) == (1, 2)
    for bad in (-1, True, "1"):
        with pytest.raises(ValidationError, match="plan"):
            check_number_limit([], bad)  # type: ignore[arg-type]


def test_only_numbers_not_released_are_counted() -> None:
    assert count_held_numbers([active(), held(), released()]) == 2
    assert count_held_numbers([]) == 0


def test_a_number_over_the_plan_limit_is_refused() -> None:
    with pytest.raises(LimitExceeded) as caught:
        check_number_limit([active(), held()], plan(2))
    assert (caught.value.limit_name, caught.value.limit, caught.value.requested) == (
        "phone_numbers",
        2,
        3,
    )


# --- state -----------------------------------------------------------------------------------

policies = st.builds(
    NumberPolicy,
    grace_period=st.integers(0, 90).map(lambda d: timedelta(days=d)),
    held_fee=st.sampled_from(HeldFee),
    payment_order=st.sampled_from(PaymentOrder),
    pre_debit_notice_lead=st.integers(0, 72).map(lambda h: timedelta(hours=h)),
    gateway_sends_notice=st.booleans(),
    mandate_limit=st.none() | st.integers(1, 10**7).map(lambda u: Money.from_minor_units(u, "INR")),
)
steps = st.lists(
    st.tuples(
        st.sampled_from(["pay", "hold", "notice", "toggle", "release", "wait"]),
        st.integers(0, 40 * 24),
    ),
    max_size=12,
)


def drive(number: NumberSubscription, plan_steps: list[tuple[str, int]], start: datetime) -> None:
    """Apply steps, ignoring refusals (each refusal must leave the state as it was)."""
    at = start
    for kind, hours in plan_steps:
        at += timedelta(hours=hours)
        before = number.to_state()
        try:
            if kind == "pay":
                if number.status is not NumberStatus.RELEASED:
                    number.record_renewal_paid(number.chargeable_period(at), at)
            elif kind == "hold":
                number.put_on_hold(HoldReason.INSUFFICIENT_CREDIT, at)
            elif kind == "notice":
                number.record_pre_debit_notice(number.paid_periods, at)
            elif kind == "toggle":
                number.set_auto_pay(not number.auto_pay, at)
            elif kind == "release":
                number.release(at)
        except MinutebillError:
            assert number.to_state() == before


@given(policies, steps, steps)
def test_state_round_trips_and_behaves_the_same(
    policy: NumberPolicy, first: list[tuple[str, int]], then: list[tuple[str, int]]
) -> None:
    number = NumberSubscription.activate(
        NUMBER, "acct-1", offer(), JAN_31, policy=policy, timezone="Asia/Kolkata"
    )
    drive(number, first, JAN_31)
    state = number.to_state()
    assert json.loads(json.dumps(state)) == state
    loaded = NumberSubscription.from_state(state)
    assert loaded.to_state() == state
    later = JAN_31 + timedelta(days=500)
    drive(number, then, later)
    drive(loaded, then, later)
    assert loaded.to_state() == number.to_state()


@given(policies)
def test_policies_round_trip(policy: NumberPolicy) -> None:
    assert NumberPolicy.from_state(policy.to_state()) == policy


def test_the_default_policy_is_safe() -> None:
    policy = NumberPolicy()
    assert policy.grace_period == timedelta(days=7)
    assert policy.pre_debit_notice_lead == timedelta(hours=24)
    assert policy.mandate_limit == inr(15000)
    assert policy.payment_order is PaymentOrder.WALLET_FIRST
    assert policy.needs_authentication(inr("15000.01"))
    assert not policy.needs_authentication(inr("15000.00"))
    assert not policy.needs_authentication(Money("20000.00", "USD"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"grace_period": timedelta(days=-1)},
        {"grace_period": timedelta(seconds=1.5)},
        {"pre_debit_notice_lead": 24},
        {"mandate_limit": inr(0)},
        {"held_fee": "accrue"},
        {"payment_order": "wallet_first"},
        {"gateway_sends_notice": "yes"},
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        NumberPolicy(**kwargs)  # type: ignore[arg-type]


@given(policies, steps)
def test_shared_parsed_values_load_what_a_fresh_parse_loads(
    policy: NumberPolicy, steps_taken: list[tuple[str, int]]
) -> None:
    parsed = ParsedValues(limit=2)
    states = []
    for fee, months in (("500.00", 1), ("250.00", 3), ("500.00", 1), ("99.00", 12)):
        number = NumberSubscription.activate(
            NUMBER, "acct-1", offer(fee, months), JAN_31, policy=policy, timezone="Asia/Kolkata"
        )
        drive(number, steps_taken, JAN_31)
        states.append(number.to_state())
    for state in states * 2:  # repeats, alternations and evictions (limit 2)
        shared = NumberSubscription.from_state(json.loads(json.dumps(state)), parsed=parsed)
        assert shared == NumberSubscription.from_state(state)
        assert shared.to_state() == state


def test_a_shared_state_equals_the_copied_one_and_only_its_nested_dicts_are_shared() -> None:
    parsed = ParsedValues()
    first, second = (
        NumberSubscription.from_state(json.loads(json.dumps(active().to_state())), parsed=parsed)
        for _ in range(2)
    )

    shared, copied = first.to_state(shared=True), first.to_state()

    assert shared == copied
    assert list(shared) == list(copied)  # the same keys in the same order: the same text
    assert shared["offer"] is second.to_state(shared=True)["offer"]
    assert shared["policy"] is second.to_state(shared=True)["policy"]
    copied["offer"]["monthly_fee"]["amount"] = "1.00"  # a copy is the caller's to change
    copied["policy"]["mandate_limit"] = None
    assert first.to_state() == shared


@pytest.mark.parametrize(
    ("part", "name", "value"),
    [
        ("offer", "interval_months", True),  # equal to 1, but not an int
        ("policy", "gateway_sends_notice", 0),  # equal to False, but not a bool
    ],
)
def test_shared_parsed_values_refuse_what_a_fresh_parse_refuses(
    part: str, name: str, value: object
) -> None:
    parsed = ParsedValues()
    state = active().to_state()
    NumberSubscription.from_state(json.loads(json.dumps(state)), parsed=parsed)
    state[part][name] = value
    assert state[part] == active().to_state()[part]  # equal values, other types
    with pytest.raises(ValidationError):
        NumberSubscription.from_state(state)
    with pytest.raises(ValidationError):
        NumberSubscription.from_state(state, parsed=parsed)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("held_fee", ["accrue"]),  # unhashable: cannot even be looked up
        ("mandate_limit", {"amount": ["15000.00"], "currency": "INR"}),
        ("pre_debit_notice_lead_seconds", 86400.5),
        ("grace_period_seconds", None),
    ],
)
def test_shared_parsed_values_fail_a_bad_policy_as_a_fresh_parse_does(
    name: str, value: object
) -> None:
    state = active().to_state()
    state["policy"][name] = value
    with pytest.raises(Exception) as fresh:  # noqa: PT011 - the same error, whatever it is
        NumberSubscription.from_state(json.loads(json.dumps(state)))
    with pytest.raises(type(fresh.value)):
        NumberSubscription.from_state(state, parsed=ParsedValues())


def test_an_inconsistent_document_is_refused() -> None:
    state = held().to_state()
    state["hold"]["release_after"] = state["hold"]["since"]
    with pytest.raises(ValidationError):
        NumberSubscription.from_state(state)
    state = active().to_state()
    state["paid_through"] = state["anchor"]
    with pytest.raises(ValidationError):
        NumberSubscription.from_state(state)
    state = active().to_state()
    state["status"] = "on_hold"
    with pytest.raises(ValidationError):
        NumberSubscription.from_state(state)


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("offer", "in-local"),
        ("policy", "default"),
        ("auto_pay", 1),
        ("auto_pay", "yes"),
        ("paid_periods", 0),
        ("paid_periods", True),
        ("paid_periods", 1.0),
        ("version", -1),
        ("version", False),
        ("version", "0"),
    ],
)
def test_the_constructor_refuses_fields_a_store_might_garble(name: str, bad: object) -> None:
    number = active()

    with pytest.raises(ValidationError) as caught:
        attrs.evolve(number, **{name: bad})  # type: ignore[arg-type]

    assert caught.value.field == name
    assert caught.value.value == bad
    assert type(caught.value.value) is type(bad)


def test_a_document_whose_notice_is_not_for_the_next_period_is_refused() -> None:
    number = active()
    number.record_pre_debit_notice(1, number.paid_through - timedelta(days=2))
    state = number.to_state()
    state["notice"]["period_index"] = 2

    with pytest.raises(ValidationError) as caught:
        NumberSubscription.from_state(state)

    assert caught.value.field == "notice"
    assert caught.value.value == PreDebitNotice.from_state(state["notice"])


@pytest.mark.parametrize("make", [active, held])
def test_a_document_whose_release_after_is_not_the_hold_s_is_refused(
    make: Callable[[], NumberSubscription],
) -> None:
    state = make().to_state()
    bad = state["paid_through"] if state["release_after"] is None else None
    state["release_after"] = bad

    with pytest.raises(ValidationError) as caught:
        NumberSubscription.from_state(state)

    assert (caught.value.field, caught.value.value) == ("release_after", bad)


def test_renewal_events_built_in_line_equal_those_their_classes_build() -> None:
    # `record_renewal_paid` builds its event with a trusted constructor: what `__init__` builds.
    number = active()
    due = number.paid_through
    number.record_renewal_paid(1, due, paid=Money("590.00", "INR"))
    renewed = NumberRenewed(
        account_id="acct-1",
        occurred_at=due,
        number=NUMBER,
        period_index=1,
        paid_through=number.paid_through,
        amount=Money("500.00", "INR"),
        paid=Money("590.00", "INR"),
    )
    assert number.pull_events() == [renewed]
    on_hold = held()
    at = on_hold.paid_through + timedelta(days=1)
    on_hold.record_renewal_paid(1, at)
    reactivated = NumberReactivated(
        account_id="acct-1",
        occurred_at=at,
        number=NUMBER,
        period_index=1,
        paid_through=on_hold.paid_through,
        amount=Money("500.00", "INR"),
        paid=Money("500.00", "INR"),  # the fee: no tax was given
    )
    events = on_hold.pull_events()
    assert events == [reactivated]
    assert hash(events[0]) == hash(reactivated)


@pytest.mark.parametrize(
    "paid", [Money("-1.00", "INR"), Money("590.00", "USD"), "590.00", Decimal("590.00")]
)
def test_a_bad_amount_paid_is_refused_and_changes_nothing(paid: object) -> None:
    number = active()
    before = number.to_state()

    with pytest.raises(ValidationError, match="paid"):
        number.record_renewal_paid(1, number.paid_through, paid=paid)  # type: ignore[arg-type]

    assert number.to_state() == before
    assert number.pull_events() == []
