"""Bad input to the minute ledger: a clear MinutebillError, and nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from minutebill.domain.catalog import OveragePolicy
from minutebill.domain.ledger import GrantSource, LedgerPolicy, MinuteLedger, UsageRecord
from minutebill.domain.money import Money
from minutebill.domain.periods import BillingPeriod
from minutebill.domain.rating import MAX_CALL_DURATION
from minutebill.errors import (
    IdempotencyConflict,
    InsufficientMinutes,
    InvalidTransition,
    MinutebillError,
    NotFound,
    ValidationError,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
JANUARY = BillingPeriod(T0, datetime(2025, 2, 1, tzinfo=UTC))
DECEMBER = BillingPeriod(datetime(2024, 12, 1, tzinfo=UTC), T0)
NAIVE = datetime(2025, 1, 5)  # noqa: DTZ001 - the point of the tests
NOW = T0 + timedelta(days=5)
YEAR_ONE = datetime(1, 1, 2, tzinfo=UTC)


def busy_ledger() -> tuple[MinuteLedger, UsageRecord]:
    """A ledger with a plan, a bundle, a live hold, a released call and a settled call."""
    ledger = MinuteLedger("acct-1", LedgerPolicy())
    ledger.open_period(JANUARY, T0)
    ledger.grant("plan", GrantSource.PLAN, 600, T0, expires_at=JANUARY.end)
    ledger.grant("bundle", GrantSource.BUNDLE, 120, T0, expires_at=JANUARY.end)
    ledger.reserve("live", 300, NOW)
    ledger.reserve("gone", 60, NOW)
    ledger.release("gone", NOW)
    record = ledger.settle("done", timedelta(seconds=30), NOW, tags=["t"])
    ledger.pull_events()
    return ledger, record


Operation = Callable[[MinuteLedger, UsageRecord], object]

CASES: list[tuple[str, Operation, type[MinutebillError]]] = [
    # grant
    (
        "grant zero",
        lambda ledger, r: ledger.grant("g", GrantSource.BUNDLE, 0, NOW),
        ValidationError,
    ),
    (
        "grant negative",
        lambda ledger, r: ledger.grant("g", GrantSource.BUNDLE, -60, NOW),
        ValidationError,
    ),
    (
        "grant bool",
        lambda ledger, r: ledger.grant("g", GrantSource.BUNDLE, True, NOW),
        ValidationError,
    ),
    (
        "grant float",
        lambda ledger, r: ledger.grant("g", GrantSource.BUNDLE, 1.5, NOW),  # type: ignore[arg-type]
        ValidationError,
    ),
    (
        "grant empty id",
        lambda ledger, r: ledger.grant(" ", GrantSource.BUNDLE, 60, NOW),
        ValidationError,
    ),
    ("grant bad source", lambda ledger, r: ledger.grant("g", "plan", 60, NOW), ValidationError),  # type: ignore[arg-type]
    (
        "grant naive at",
        lambda ledger, r: ledger.grant("g", GrantSource.BUNDLE, 60, NAIVE),
        ValidationError,
    ),
    (
        "grant naive start",
        lambda ledger, r: ledger.grant("g", GrantSource.BUNDLE, 60, NOW, effective_at=NAIVE),
        ValidationError,
    ),
    (
        "grant expiry before start",
        lambda ledger, r: ledger.grant(
            "g",
            GrantSource.BUNDLE,
            60,
            NOW,
            effective_at=NOW + timedelta(days=2),
            expires_at=NOW + timedelta(days=1),
        ),
        ValidationError,
    ),
    (
        "grant already expired",
        lambda ledger, r: ledger.grant("g", GrantSource.BUNDLE, 60, NOW, expires_at=NOW),
        ValidationError,
    ),
    (
        "grant in another period's past",
        lambda ledger, r: ledger.grant("g", GrantSource.BUNDLE, 60, DECEMBER.start, expires_at=NOW),
        ValidationError,
    ),
    (
        "grant bad priority",
        lambda ledger, r: ledger.grant("g", GrantSource.BUNDLE, 60, NOW, priority="1"),  # type: ignore[arg-type]
        ValidationError,
    ),
    (
        "grant bad reference",
        lambda ledger, r: ledger.grant("g", GrantSource.BUNDLE, 60, NOW, reference=5),  # type: ignore[arg-type]
        ValidationError,
    ),
    (
        "grant same id other terms",
        lambda ledger, r: ledger.grant(
            "bundle", GrantSource.BUNDLE, 60, T0, expires_at=JANUARY.end
        ),
        IdempotencyConflict,
    ),
    # reserve
    ("reserve zero", lambda ledger, r: ledger.reserve("c", 0, NOW), ValidationError),
    ("reserve negative", lambda ledger, r: ledger.reserve("c", -1, NOW), ValidationError),
    ("reserve empty call id", lambda ledger, r: ledger.reserve("", 60, NOW), ValidationError),
    ("reserve NUL in call id", lambda ledger, r: ledger.reserve("c\x00", 60, NOW), ValidationError),
    ("reserve surrogate", lambda ledger, r: ledger.reserve("c\udc00", 60, NOW), ValidationError),
    ("reserve long call id", lambda ledger, r: ledger.reserve("c" * 256, 60, NOW), ValidationError),
    ("reserve naive", lambda ledger, r: ledger.reserve("c", 60, NAIVE), ValidationError),
    (
        "reserve other seconds",
        lambda ledger, r: ledger.reserve("live", 301, NOW),
        IdempotencyConflict,
    ),
    ("reserve released call", lambda ledger, r: ledger.reserve("gone", 60, NOW), InvalidTransition),
    ("reserve settled call", lambda ledger, r: ledger.reserve("done", 60, NOW), InvalidTransition),
    (
        "reserve with nothing left",
        lambda ledger, r: ledger.reserve("c", 60, JANUARY.end),
        InsufficientMinutes,
    ),
    # settle
    (
        "settle negative duration",
        lambda ledger, r: ledger.settle("c", timedelta(seconds=-1), NOW),
        ValidationError,
    ),
    ("settle int duration", lambda ledger, r: ledger.settle("c", 60, NOW), ValidationError),  # type: ignore[arg-type]
    ("settle naive", lambda ledger, r: ledger.settle("c", timedelta(1), NAIVE), ValidationError),
    (
        "settle naive start",
        lambda ledger, r: ledger.settle("c", timedelta(seconds=1), NOW, started_at=NAIVE),
        ValidationError,
    ),
    (
        "settle start after settle",
        lambda ledger, r: ledger.settle(
            "c", timedelta(seconds=1), NOW, started_at=NOW + timedelta(1)
        ),
        ValidationError,
    ),
    (
        "settle tags as a string",
        lambda ledger, r: ledger.settle("c", timedelta(seconds=1), NOW, tags="abc"),
        ValidationError,
    ),
    (
        "settle empty tag",
        lambda ledger, r: ledger.settle("c", timedelta(seconds=1), NOW, tags=[""]),
        ValidationError,
    ),
    (
        "settle tags not iterable",
        lambda ledger, r: ledger.settle("c", timedelta(seconds=1), NOW, tags=5),  # type: ignore[arg-type]
        ValidationError,
    ),
    (
        "settle empty call id",
        lambda ledger, r: ledger.settle("", timedelta(1), NOW),
        ValidationError,
    ),
    (
        "settle long call id",
        lambda ledger, r: ledger.settle("c" * 256, timedelta(1), NOW),
        ValidationError,
    ),
    (
        "settle long tag",
        lambda ledger, r: ledger.settle("c", timedelta(1), NOW, tags=["t" * 256]),
        ValidationError,
    ),
    (
        "settle NUL in call id",
        lambda ledger, r: ledger.settle("c\x00", timedelta(1), NOW),
        ValidationError,
    ),
    (
        "settle a call longer than any call",
        lambda ledger, r: ledger.settle("c", MAX_CALL_DURATION + timedelta(microseconds=1), NOW),
        ValidationError,
    ),
    (
        "settle a held call longer than any call",
        lambda ledger, r: ledger.settle("live", timedelta(days=999_999_999), NOW),
        ValidationError,
    ),
    (
        "settle a call that started before year 1",
        lambda ledger, r: ledger.settle("c", timedelta(days=2), YEAR_ONE),
        ValidationError,
    ),
    (
        "settle released call",
        lambda ledger, r: ledger.settle("gone", timedelta(seconds=1), NOW),
        InvalidTransition,
    ),
    (
        "settle before the hold",
        lambda ledger, r: ledger.settle("live", timedelta(seconds=1), NOW - timedelta(seconds=1)),
        ValidationError,
    ),
    (
        "settle with another call's record",
        lambda ledger, r: ledger.settle("other", timedelta(seconds=30), NOW, previous=r),
        ValidationError,
    ),
    (
        "settle with something that is not a record",
        lambda ledger, r: ledger.settle("done", timedelta(seconds=30), NOW, previous="done"),  # type: ignore[arg-type]
        ValidationError,
    ),
    (
        "settle again with another duration",
        lambda ledger, r: ledger.settle("done", timedelta(seconds=31), NOW, tags=["t"]),
        IdempotencyConflict,
    ),
    # release, expiry, periods, policy
    ("release unknown call", lambda ledger, r: ledger.release("nobody", NOW), NotFound),
    ("release settled call", lambda ledger, r: ledger.release("done", NOW), InvalidTransition),
    ("release naive", lambda ledger, r: ledger.release("live", NAIVE), ValidationError),
    ("expire naive", lambda ledger, r: ledger.expire(NAIVE), ValidationError),
    ("expire holds naive", lambda ledger, r: ledger.expire_holds(NAIVE), ValidationError),
    ("snapshot naive", lambda ledger, r: ledger.snapshot(NAIVE), ValidationError),
    ("open a non-period", lambda ledger, r: ledger.open_period("2025-02", NOW), ValidationError),  # type: ignore[arg-type]
    (
        "open an earlier period",
        lambda ledger, r: ledger.open_period(DECEMBER, NOW),
        ValidationError,
    ),
    ("open naive", lambda ledger, r: ledger.open_period(JANUARY, NAIVE), ValidationError),
    (
        "rollover negative cap",
        lambda ledger, r: ledger.rollover(
            JANUARY.end, cap_seconds=-1, expires_at=None, grant_id="r"
        ),
        ValidationError,
    ),
    (
        "rollover expiring at once",
        lambda ledger, r: ledger.rollover(
            JANUARY.end, cap_seconds=60, expires_at=JANUARY.end, grant_id="r"
        ),
        ValidationError,
    ),
    (
        "rollover onto another grant's id",
        lambda ledger, r: ledger.rollover(
            JANUARY.end, cap_seconds=60, expires_at=None, grant_id="plan"
        ),
        IdempotencyConflict,
    ),
    ("set a non-policy", lambda ledger, r: ledger.set_policy("pro"), ValidationError),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("operation", "error"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_and_changes_nothing(
    operation: Operation, error: type[MinutebillError]
) -> None:
    ledger, record = busy_ledger()
    before = ledger.to_state()

    with pytest.raises(error) as caught:
        operation(ledger, record)

    assert isinstance(caught.value, MinutebillError)
    assert str(caught.value)
    assert ledger.to_state() == before
    assert ledger.pull_events() == []


def test_validation_errors_name_the_field() -> None:
    ledger, _ = busy_ledger()

    with pytest.raises(ValidationError) as caught:
        ledger.grant("g", GrantSource.BUNDLE, -60, NOW)

    assert (caught.value.field, caught.value.value) == ("seconds", -60)


ONE_DAY_AGO = NOW - timedelta(days=1)

NAMED_CASES: list[tuple[str, Operation, str, object]] = [
    ("late cover negative", lambda ledger, r: ledger.late_arrears_covered(-1), "seconds", -1),
    ("late cover bool", lambda ledger, r: ledger.late_arrears_covered(True), "seconds", True),
    ("late cover float", lambda ledger, r: ledger.late_arrears_covered(60.0), "seconds", 60.0),  # type: ignore[arg-type]
    ("late cover text", lambda ledger, r: ledger.late_arrears_covered("60"), "seconds", "60"),  # type: ignore[arg-type]
    (
        "grant expired before now",
        lambda ledger, r: ledger.grant(
            "g", GrantSource.BUNDLE, 60, NOW, effective_at=T0, expires_at=ONE_DAY_AGO
        ),
        "expires_at",
        ONE_DAY_AGO,
    ),
    (
        "grant expiring now",
        lambda ledger, r: ledger.grant(
            "g", GrantSource.BUNDLE, 60, NOW, effective_at=T0, expires_at=NOW
        ),
        "expires_at",
        NOW,
    ),
    (
        "overage paid for another account's call",
        lambda ledger, r: ledger.note_overage_paid(
            attrs.evolve(r, account_id="acct-2"), Money("1.00", "INR")
        ),
        "record",
        "done",
    ),
]


@pytest.mark.parametrize(
    ("operation", "field", "value"),
    [c[1:] for c in NAMED_CASES],
    ids=[c[0] for c in NAMED_CASES],
)
def test_bad_input_names_the_field_and_the_value_and_changes_nothing(
    operation: Operation, field: str, value: object
) -> None:
    ledger, record = busy_ledger()
    before = ledger.to_state()

    with pytest.raises(ValidationError) as caught:
        operation(ledger, record)

    assert (caught.value.field, caught.value.value) == (field, value)
    assert type(caught.value.value) is type(value)
    assert ledger.to_state() == before
    assert ledger.pull_events() == []


@pytest.mark.parametrize(
    "arguments",
    [
        {"thresholds": (100, 80)},
        {"thresholds": (0,)},
        {"thresholds": (101,)},
        {"thresholds": (80, 80)},
        {"thresholds": None},
        {"thresholds": 80},
        {"thresholds": "80"},
        {"hold_ttl": timedelta(0)},
        {"hold_ttl": MAX_CALL_DURATION + timedelta(microseconds=1)},  # beyond any call
        {"hold_ttl": timedelta(days=999_999_999)},  # a hold could not even expire
        {"rating": "60/60"},
        {"overage": "block"},
    ],
)
def test_a_bad_policy_is_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LedgerPolicy(**arguments)  # type: ignore[arg-type]


def test_a_policy_that_could_not_price_its_longest_call_is_refused() -> None:
    """Settling would price the overage after taking the seconds: it must never fail there.

    A minimum of 10**18 seconds at INR 1.50 a minute is INR 2.5e16, beyond any amount: such a
    settlement raised after it had used the call's seconds (the ledger changed, no record).
    """
    from minutebill.domain.money import Money
    from minutebill.domain.rating import BillingIncrement

    rate = Money("1.50", "INR")
    absurd = BillingIncrement(60, 60, 10**18)
    for overage in (OveragePolicy.charge_wallet(rate), OveragePolicy.bill_in_arrears(rate)):
        with pytest.raises(ValidationError) as caught:
            LedgerPolicy(rating=absurd, overage=overage)
        assert (caught.value.field, caught.value.value) == ("rate_per_minute", rate)
        assert "60/60/1000000000000000000" in str(caught.value)
    assert LedgerPolicy(rating=absurd).overage.blocks  # nothing to price under block
    # Priced as rate x 2,678,400 s / 60: an amount holds up to about INR 1e16.
    per_second = BillingIncrement.PER_SECOND
    fits, too_much = Money(3 * 10**9, "INR"), Money(4 * 10**9, "INR")
    LedgerPolicy(rating=per_second, overage=OveragePolicy.charge_wallet(fits))
    with pytest.raises(ValidationError):
        LedgerPolicy(rating=per_second, overage=OveragePolicy.charge_wallet(too_much))


def test_a_hold_whose_expiry_is_beyond_the_calendar_is_refused_and_changes_nothing() -> None:
    """The hold's expiry is worked out before any second is held (it used to overflow after)."""
    ledger = MinuteLedger("acct-1", LedgerPolicy())
    ledger.grant("promo", GrantSource.PROMOTIONAL, 600, T0)  # never expires
    ledger.pull_events()
    before = ledger.to_state()
    end_of_time = datetime.max.replace(tzinfo=UTC) - timedelta(hours=1)

    with pytest.raises(ValidationError) as caught:
        ledger.reserve("late", 60, end_of_time)

    assert (caught.value.field, caught.value.value) == ("at", end_of_time)
    assert ledger.to_state() == before
    assert ledger.pull_events() == []


def test_an_account_id_is_required() -> None:
    with pytest.raises(ValidationError):
        MinuteLedger("", LedgerPolicy())


def test_the_policy_follows_the_plan() -> None:
    from minutebill.domain.catalog import Plan, PlanFeatures
    from minutebill.domain.money import Money
    from minutebill.domain.periods import BillingInterval
    from minutebill.domain.rating import BillingIncrement

    rate = Money("0.50", "INR")
    plan = Plan(
        "pro",
        "Pro",
        Money("999.00", "INR"),
        BillingInterval.monthly(),
        5000,
        PlanFeatures(
            concurrent_calls=5,
            phone_numbers=3,
            overage=OveragePolicy.charge_wallet(rate),
            rating=BillingIncrement.SIXTY_SIX,
        ),
    )

    policy = LedgerPolicy.for_plan(plan, thresholds=(50, 90, 100))

    assert policy.rating == BillingIncrement.SIXTY_SIX
    assert policy.overage.rate_per_minute == rate
    assert policy.thresholds == (50, 90, 100)
    assert LedgerPolicy.from_state(policy.to_state()) == policy


@pytest.mark.parametrize(
    ("call_id", "duration", "at"),
    [
        ("c", timedelta(days=999_999_999), NOW),  # no hold: the start would be before year 1
        ("live", timedelta(days=999_999_999), NOW),  # held: the start is the hold's
        ("c", MAX_CALL_DURATION + timedelta(microseconds=1), NOW),
        ("c", timedelta(days=2), YEAR_ONE),
    ],
    ids=["huge", "huge-held", "just-too-long", "before-year-1"],
)
def test_an_impossible_duration_is_refused_naming_the_duration(
    call_id: str, duration: timedelta, at: datetime
) -> None:
    ledger, _ = busy_ledger()

    with pytest.raises(ValidationError) as caught:
        ledger.settle(call_id, duration, at)

    assert (caught.value.field, caught.value.value) == ("duration", duration)


def test_the_longest_call_is_billed() -> None:
    ledger, _ = busy_ledger()
    record = ledger.settle("c", MAX_CALL_DURATION, NOW)
    assert record.billable_seconds == MAX_CALL_DURATION // timedelta(seconds=1)
    assert record.started_at == NOW - MAX_CALL_DURATION
