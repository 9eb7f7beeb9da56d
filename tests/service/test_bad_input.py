"""Bad input through `Billing`: a clear `MinutebillError`, and the store exactly as it was.

Each case runs against an account with some history (a plan, a settled call, a held call, a
wallet balance, a number, an open payment) on the in-memory store and on SQLite. The whole
store is read before and after — every aggregate with its version, every usage record and the
outbox — and nothing may be published.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from minutebill.domain.money import Money
from minutebill.domain.payment_events import PaymentEvent, PaymentEventKind
from minutebill.domain.rating import MAX_CALL_DURATION
from minutebill.errors import (
    CurrencyMismatch,
    InvalidTransition,
    LimitExceeded,
    MinutebillError,
    NotFound,
    ValidationError,
    WebhookVerificationError,
)
from minutebill.testing.fakes import Outcome
from minutebill.testing.stateful import UPI, BillingRig
from tests.service.test_support import (
    ACCOUNT,
    STORES,
    RecordingPublisher,
    open_store,
    snapshot,
    top_up,
)

NUMBER = "+919800000001"
SECOND = "+919800000003"
OTHER = "acct-2"
GHOST = "ghost"
Action = Callable[[BillingRig], object]


@pytest.fixture(params=STORES)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BillingRig]:
    with open_store(request.param, tmp_path) as uow_factory:
        built = BillingRig.build(uow_factory, publisher=RecordingPublisher())
        billing = built.billing
        billing.subscribe(ACCOUNT, "pro", timezone="Asia/Kolkata")
        billing.subscribe(OTHER, "starter")
        billing.end_call(ACCOUNT, "done", timedelta(minutes=3), tags=["camp-a"])
        billing.start_call(ACCOUNT, "live")
        top_up(built, ACCOUNT, 1000, "t1")
        billing.acquire_number(ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1")
        billing.acquire_number(ACCOUNT, "in-local", SECOND, UPI, idempotency_key="n2")
        built.gateway.script(Outcome.STAY_PENDING)
        billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="open")
        built.clock.advance(timedelta(days=2))
        yield built


def publisher(rig: BillingRig) -> RecordingPublisher:
    found = rig.billing._runner.publisher
    assert isinstance(found, RecordingPublisher)
    return found


def forged_webhook(rig: BillingRig) -> object:
    hook = rig.gateway.webhook_for(_event("pay_000001"), wrong_secret=True)
    return rig.billing.handle_gateway_event(hook.body, hook.headers)


def webhook_for_a_stranger(rig: BillingRig) -> object:
    hook = rig.gateway.webhook_for(_event("pay_someone_else"))
    return rig.billing.handle_gateway_event(hook.body, hook.headers)


def _event(reference: str) -> PaymentEvent:
    return PaymentEvent(
        event_id="evt_forged",
        kind=PaymentEventKind.SUCCEEDED,
        payment_reference=reference,
        gateway_payment_id="pay_000009",
        occurred_at=datetime(2026, 1, 6, tzinfo=UTC),
        amount=Money(449, "INR"),
    )


def foreign_quote(rig: BillingRig) -> object:
    quote = rig.billing.quote_plan_change(OTHER, "pro")
    return rig.billing.change_plan(ACCOUNT, quote)


def tampered_quote(rig: BillingRig) -> object:
    """A quote altered after pricing (kept by a client, say): its charge cut to ₹1."""
    quote = rig.billing.quote_plan_change(ACCOUNT, "enterprise")
    return rig.billing.change_plan(ACCOUNT, attrs.evolve(quote, charge=RUPEE))


def quote_with_a_tampered_plan(rig: BillingRig) -> object:
    """A quote whose new plan was altered: the same code, ten times the minutes."""
    quote = rig.billing.quote_plan_change(ACCOUNT, "enterprise")
    richer = attrs.evolve(quote.to_plan, included_minutes=quote.to_plan.included_minutes * 10)
    cheap = attrs.evolve(quote, to_plan=richer, charge=RUPEE)
    return rig.billing.change_plan(ACCOUNT, cheap)


def downgrade_quoted_without_the_numbers(rig: BillingRig) -> object:
    """A downgrade to Starter (one number) priced without counting the account's two."""
    with rig.uow_factory() as uow:  # read only: rolled back
        quote = uow.subscriptions.get(ACCOUNT).change_plan(
            rig.billing.catalog.plan("starter"),
            rig.clock.now(),
            policy=rig.billing.proration,
            tax=rig.billing.tax,
        )
    return rig.billing.change_plan(ACCOUNT, quote)


def upgrade_without_money(rig: BillingRig) -> object:
    return rig.billing.change_plan(ACCOUNT, rig.billing.quote_plan_change(ACCOUNT, "enterprise"))


TODAY = date(2026, 1, 7)
NOON = datetime(2026, 1, 7, 12, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
RUPEE = Money(1, "INR")


def history(cursor: object) -> Action:
    return lambda r: r.billing.usage_history(ACCOUNT, cursor=cursor)  # type: ignore[arg-type]


def by_day(since: object, until: object, **options: object) -> Action:
    return lambda r: r.billing.usage_by_day(ACCOUNT, since, until, **options)  # type: ignore[arg-type]


def by_tag(since: object, until: object) -> Action:
    return lambda r: r.billing.usage_by_tag(ACCOUNT, since, until)  # type: ignore[arg-type]


CASES: list[tuple[str, Action, type[MinutebillError], str]] = [
    # unknown account
    ("overview", lambda r: r.billing.overview(GHOST), NotFound, "ghost"),
    ("start_call", lambda r: r.billing.start_call(GHOST, "c"), NotFound, "ghost"),
    ("end_call", lambda r: r.billing.end_call(GHOST, "c", MINUTE), NotFound, "ghost"),
    ("release_call", lambda r: r.billing.release_call(GHOST, "live"), NotFound, "ghost"),
    ("admit_waiting", lambda r: r.billing.admit_waiting(GHOST), NotFound, "ghost"),
    (
        "checkout_bundle",
        lambda r: r.billing.checkout_bundle(GHOST, "nexus", UPI, idempotency_key="k"),
        NotFound,
        "ghost",
    ),
    (
        "top_up",
        lambda r: r.billing.top_up(GHOST, RUPEE, UPI, idempotency_key="k"),
        NotFound,
        "ghost",
    ),
    (
        "checkout_plan_renewal",
        lambda r: r.billing.checkout_plan_renewal(GHOST, UPI, idempotency_key="k"),
        NotFound,
        "ghost",
    ),
    (
        "acquire_number",
        lambda r: r.billing.acquire_number(GHOST, "in-local", NUMBER, UPI, idempotency_key="k"),
        NotFound,
        "ghost",
    ),
    ("numbers", lambda r: r.billing.numbers(GHOST), NotFound, "ghost"),
    ("set_auto_pay", lambda r: r.billing.set_auto_pay(GHOST, NUMBER, False), NotFound, "ghost"),
    ("release_number", lambda r: r.billing.release_number(GHOST, NUMBER), NotFound, "ghost"),
    ("quote", lambda r: r.billing.quote_plan_change(GHOST, "enterprise"), NotFound, "ghost"),
    ("cancel", lambda r: r.billing.cancel(GHOST), NotFound, "ghost"),
    ("resume", lambda r: r.billing.resume(GHOST), NotFound, "ghost"),
    ("usage_history", lambda r: r.billing.usage_history(GHOST), NotFound, "ghost"),
    ("usage_by_day", lambda r: r.billing.usage_by_day(GHOST, TODAY, TODAY), NotFound, "ghost"),
    ("usage_by_tag", lambda r: r.billing.usage_by_tag(GHOST, TODAY, TODAY), NotFound, "ghost"),
    # unknown codes and references
    ("new-account-plan", lambda r: r.billing.subscribe("new", "platinum"), NotFound, "platinum"),
    ("same-account-plan", lambda r: r.billing.subscribe(ACCOUNT, "gold"), NotFound, "gold"),
    ("quote-plan", lambda r: r.billing.quote_plan_change(ACCOUNT, "gold"), NotFound, "gold"),
    (
        "rollover",
        lambda r: r.billing.subscribe("new", "pro", rollover="all"),  # type: ignore[arg-type]
        ValidationError,
        "rollover='all'",
    ),
    (
        "bundle",
        lambda r: r.billing.checkout_bundle(ACCOUNT, "mega", UPI, idempotency_key="k"),
        NotFound,
        "mega",
    ),
    (
        "offer",
        lambda r: r.billing.acquire_number(ACCOUNT, "us-toll", NUMBER, UPI, idempotency_key="k"),
        NotFound,
        "us-toll",
    ),
    ("number", lambda r: r.billing.release_number(ACCOUNT, "+919811111111"), NotFound, "9811"),
    ("payment", lambda r: r.billing.reconcile_payment("pay_nope"), NotFound, "pay_nope"),
    ("webhook-payment", webhook_for_a_stranger, NotFound, "pay_someone_else"),
    # negative or zero amounts, durations and sizes
    (
        "negative-top-up",
        lambda r: r.billing.top_up(ACCOUNT, Money(-5, "INR"), UPI, idempotency_key="k"),
        ValidationError,
        "amount",
    ),
    (
        "zero-top-up",
        lambda r: r.billing.top_up(ACCOUNT, Money(0, "INR"), UPI, idempotency_key="k"),
        ValidationError,
        "amount",
    ),
    (
        "sub-paisa-top-up",
        lambda r: r.billing.top_up(ACCOUNT, Money("0.001", "INR"), UPI, idempotency_key="k"),
        ValidationError,
        "minor units",
    ),
    (
        "negative-duration",
        lambda r: r.billing.end_call(ACCOUNT, "c", timedelta(seconds=-1)),
        ValidationError,
        "duration",
    ),
    (
        "duration-not-timedelta",
        lambda r: r.billing.end_call(ACCOUNT, "c", 60),  # type: ignore[arg-type]
        ValidationError,
        "duration",
    ),
    (
        "huge-duration",
        lambda r: r.billing.end_call(ACCOUNT, "c", timedelta(days=999_999_999)),
        ValidationError,
        "duration",
    ),
    (
        "huge-duration-held",
        lambda r: r.billing.end_call(ACCOUNT, "live", timedelta(days=999_999_999)),
        ValidationError,
        "duration",
    ),
    (
        "longer-than-any-call",
        lambda r: r.billing.end_call(ACCOUNT, "c", MAX_CALL_DURATION + timedelta(seconds=1)),
        ValidationError,
        "duration",
    ),
    (
        "zero-max-seconds",
        lambda r: r.billing.start_call(ACCOUNT, "c", max_seconds=0),
        ValidationError,
        "max_seconds",
    ),
    (
        "negative-max-seconds",
        lambda r: r.billing.start_call(ACCOUNT, "c", max_seconds=-60),
        ValidationError,
        "max_seconds",
    ),
    (
        "zero-quantity",
        lambda r: r.billing.checkout_bundle(ACCOUNT, "pro", UPI, idempotency_key="k", quantity=0),
        ValidationError,
        "quantity",
    ),
    ("batch-size", lambda r: r.billing.run_due(batch_size=0), ValidationError, "batch_size"),
    (
        "text-batch-size",
        lambda r: r.billing.run_due(batch_size="50"),  # type: ignore[arg-type]
        ValidationError,
        "batch_size",
    ),
    (
        "fractional-batch-size",
        lambda r: r.billing.run_due(batch_size=2.5),  # type: ignore[arg-type]
        ValidationError,
        "batch_size",
    ),
    (
        "bool-batch-size",
        lambda r: r.billing.run_due(batch_size=True),
        ValidationError,
        "batch_size",
    ),
    ("page-limit", lambda r: r.billing.usage_history(ACCOUNT, limit=0), ValidationError, "limit"),
    (
        "huge-page",
        lambda r: r.billing.usage_history(ACCOUNT, limit=501),
        ValidationError,
        "limit",
    ),
    (
        "cursor",
        lambda r: r.billing.usage_history(ACCOUNT, cursor="page-2"),
        ValidationError,
        "cursor",
    ),
    # cursors page() never returned: refused alike on every store
    ("cursor-superscript", history("²:done"), ValidationError, "cursor"),
    ("cursor-two-minuses", history("--5:done"), ValidationError, "cursor"),
    ("cursor-beyond-64-bits", history("99999999999999999999:done"), ValidationError, "cursor"),
    ("cursor-beyond-datetime", history(f"{10**18}:done"), ValidationError, "cursor"),
    ("cursor-arabic-digits", history("١٢:done"), ValidationError, "cursor"),
    ("cursor-no-call", history("12:"), ValidationError, "cursor"),
    ("cursor-surrogate", history("12:done\ud800"), ValidationError, "cursor"),
    ("cursor-not-text", history(12), ValidationError, "cursor"),
    # days that are not days, tags that are not tags
    ("datetime-since", by_day(NOON, TODAY), ValidationError, "since"),
    ("datetime-until", by_day(date(2026, 1, 1), NOON), ValidationError, "until"),
    ("text-since", by_day("2026-01-01", TODAY), ValidationError, "since"),
    ("no-until", by_day(TODAY, None), ValidationError, "until"),
    ("tag-datetime-since", by_tag(NOON, TODAY), ValidationError, "since"),
    ("tag-datetime-until", by_tag(date(2026, 1, 1), NOON), ValidationError, "until"),
    ("tag-text-until", by_tag(TODAY, "2026-01-08"), ValidationError, "until"),
    ("tag-no-until", by_tag(TODAY, None), ValidationError, "until"),
    ("empty-tag-filter", by_day(date(2026, 1, 1), TODAY, tag=""), ValidationError, "tag"),
    ("blank-tag-filter", by_day(date(2026, 1, 1), TODAY, tag=" "), ValidationError, "tag"),
    ("number-tag-filter", by_day(date(2026, 1, 1), TODAY, tag=5), ValidationError, "tag"),
    ("nul-tag-filter", by_day(date(2026, 1, 1), TODAY, tag="c\x00"), ValidationError, "tag"),
    (
        "backwards-days",
        lambda r: r.billing.usage_by_day(ACCOUNT, TODAY, date(2026, 1, 1)),
        ValidationError,
        "until",
    ),
    # foreign currency
    (
        "usd-top-up",
        lambda r: r.billing.top_up(ACCOUNT, Money(5, "USD"), UPI, idempotency_key="k"),
        CurrencyMismatch,
        "USD",
    ),
    # naive datetimes
    (
        "text-now",
        lambda r: r.billing.run_due("2026-03-01T00:00:00+00:00"),  # type: ignore[arg-type]
        ValidationError,
        "now",
    ),
    (
        "naive-now",
        lambda r: r.billing.run_due(datetime(2026, 3, 1)),  # noqa: DTZ001 - the point
        ValidationError,
        "now",
    ),
    (
        "naive-start",
        lambda r: r.billing.end_call(
            ACCOUNT,
            "c",
            MINUTE,
            started_at=datetime(2026, 1, 6, 9),  # noqa: DTZ001 - the point
        ),
        ValidationError,
        "started_at",
    ),
    # empty or malformed ids and values
    ("empty-account", lambda r: r.billing.subscribe("", "pro"), ValidationError, "account_id"),
    ("blank-account", lambda r: r.billing.overview("  "), ValidationError, "account_id"),
    ("empty-call", lambda r: r.billing.start_call(ACCOUNT, ""), ValidationError, "call_id"),
    (
        "empty-call-end",
        lambda r: r.billing.end_call(ACCOUNT, "", MINUTE),
        ValidationError,
        "call_id",
    ),
    ("empty-call-release", lambda r: r.billing.release_call(ACCOUNT, ""), ValidationError, "call"),
    (
        "empty-key",
        lambda r: r.billing.top_up(ACCOUNT, RUPEE, UPI, idempotency_key=""),
        ValidationError,
        "idempotency_key",
    ),
    (
        "empty-bundle-key",
        lambda r: r.billing.checkout_bundle(ACCOUNT, "pro", UPI, idempotency_key=""),
        ValidationError,
        "idempotency_key",
    ),
    (
        "empty-renewal-key",
        lambda r: r.billing.checkout_plan_renewal(ACCOUNT, UPI, idempotency_key=""),
        ValidationError,
        "idempotency_key",
    ),
    (
        "renewal-not-due",
        lambda r: r.billing.checkout_plan_renewal(ACCOUNT, UPI, idempotency_key="k"),
        InvalidTransition,
        "pay the renewal",
    ),
    (
        "not-e164",
        lambda r: r.billing.acquire_number(ACCOUNT, "in-local", "98000", UPI, idempotency_key="k"),
        ValidationError,
        "E.164",
    ),
    ("empty-payment", lambda r: r.billing.reconcile_payment(""), ValidationError, "payment_id"),
    (
        "time-zone",
        lambda r: r.billing.subscribe("new", "pro", timezone="Mars/Olympus"),
        ValidationError,
        "Mars/Olympus",
    ),
    (
        "no-tags",
        lambda r: r.billing.end_call(ACCOUNT, "c", MINUTE, tags=None),  # type: ignore[arg-type]
        ValidationError,
        "tags",
    ),
    (
        "number-tags",
        lambda r: r.billing.end_call(ACCOUNT, "c", MINUTE, tags=5),  # type: ignore[arg-type]
        ValidationError,
        "tags",
    ),
    (
        "string-tags",
        lambda r: r.billing.end_call(ACCOUNT, "c", MINUTE, tags="camp-a"),
        ValidationError,
        "tags",
    ),
    (
        "empty-tag",
        lambda r: r.billing.end_call(ACCOUNT, "c", MINUTE, tags=[""]),
        ValidationError,
        "tags",
    ),
    # text that a store cannot keep (a lone surrogate has no UTF-8, PostgreSQL keeps no NUL)
    (
        "surrogate-account",
        lambda r: r.billing.subscribe("a\ud800", "pro"),
        ValidationError,
        "UTF-8",
    ),
    (
        "surrogate-call-start",
        lambda r: r.billing.start_call(ACCOUNT, "c\udc00"),
        ValidationError,
        "call_id",
    ),
    (
        "surrogate-call-end",
        lambda r: r.billing.end_call(ACCOUNT, "c\udc00", MINUTE),
        ValidationError,
        "call_id",
    ),
    (
        "surrogate-tag",
        lambda r: r.billing.end_call(ACCOUNT, "c", MINUTE, tags=["camp-\ud800"]),
        ValidationError,
        "tags",
    ),
    ("nul-call", lambda r: r.billing.start_call(ACCOUNT, "c\x00"), ValidationError, "NUL"),
    # ids, keys and tags longer than a store can index
    ("long-account", lambda r: r.billing.subscribe("a" * 256, "pro"), ValidationError, "255"),
    ("long-call", lambda r: r.billing.start_call(ACCOUNT, "c" * 256), ValidationError, "255"),
    (
        "long-call-end",
        lambda r: r.billing.end_call(ACCOUNT, "c" * 256, MINUTE),
        ValidationError,
        "255",
    ),
    (
        "long-tag",
        lambda r: r.billing.end_call(ACCOUNT, "c", MINUTE, tags=["t" * 256]),
        ValidationError,
        "255",
    ),
    (
        "long-key",
        lambda r: r.billing.top_up(ACCOUNT, RUPEE, UPI, idempotency_key="k" * 256),
        ValidationError,
        "255",
    ),
    (
        "surrogate-key",
        lambda r: r.billing.top_up(ACCOUNT, RUPEE, UPI, idempotency_key="k\udfff"),
        ValidationError,
        "UTF-8",
    ),
    (
        "blank-mandate",
        lambda r: r.billing.acquire_number(
            ACCOUNT, "in-local", "+919800000002", UPI, idempotency_key="k", mandate_id=""
        ),
        ValidationError,
        "mandate_id",
    ),
    (
        "nul-mandate",
        lambda r: r.billing.acquire_number(
            ACCOUNT, "in-local", "+919800000002", UPI, idempotency_key="k", mandate_id="m\x00"
        ),
        ValidationError,
        "mandate_id",
    ),
    (
        "string-auto-pay",
        lambda r: r.billing.acquire_number(
            ACCOUNT,
            "in-local",
            "+919800000002",
            UPI,
            idempotency_key="k",
            auto_pay="no",  # type: ignore[arg-type]
        ),
        ValidationError,
        "auto_pay='no'",
    ),
    (
        "no-requires",
        lambda r: r.billing.acquire_number(
            ACCOUNT,
            "in-local",
            "+919800000002",
            UPI,
            idempotency_key="k",
            requires=None,  # type: ignore[arg-type]
        ),
        ValidationError,
        "requires=None",
    ),
    (
        "string-requires",
        lambda r: r.billing.acquire_number(
            ACCOUNT,
            "in-local",
            "+919800000002",
            UPI,
            idempotency_key="k",
            requires="voice",  # type: ignore[arg-type]
        ),
        ValidationError,
        "requires='voice'",
    ),
    (
        "not-a-quote",
        lambda r: r.billing.change_plan(ACCOUNT, "enterprise"),  # type: ignore[arg-type]
        ValidationError,
        "quote",
    ),
    ("foreign-quote", foreign_quote, ValidationError, "not for account"),
    ("tampered-quote", tampered_quote, ValidationError, "ask for a new one"),
    ("tampered-plan", quote_with_a_tampered_plan, ValidationError, "ask for a new one"),
    ("forged-webhook", forged_webhook, WebhookVerificationError, "signature"),
    # refused by the rules
    ("other-plan", lambda r: r.billing.subscribe(ACCOUNT, "starter"), InvalidTransition, "pro"),
    ("upgrade-unpaid", upgrade_without_money, MinutebillError, "INR"),
    (
        "downgrade-quote-over-number-limit",
        lambda r: r.billing.quote_plan_change(ACCOUNT, "starter"),
        LimitExceeded,
        "phone_numbers limit is 1; this would make 2",
    ),
    (
        "downgrade-over-number-limit",
        downgrade_quoted_without_the_numbers,
        LimitExceeded,
        "phone_numbers limit is 1; this would make 2",
    ),
    (
        "held-number",
        lambda r: r.billing.acquire_number(ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="x"),
        InvalidTransition,
        NUMBER[1:],
    ),
]


@pytest.mark.parametrize(
    ("action", "error", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_refused_clearly_and_changes_nothing(
    rig: BillingRig, action: Action, error: type[MinutebillError], words: str
) -> None:
    before = snapshot(rig, ACCOUNT, OTHER, GHOST, "new")
    published = len(publisher(rig).batches)
    charged = rig.gateway.payments()
    with pytest.raises(error) as raised:
        action(rig)
    assert words in str(raised.value)
    assert snapshot(rig, ACCOUNT, OTHER, GHOST, "new") == before
    assert len(publisher(rig).batches) == published
    assert rig.gateway.payments() == charged  # nothing was sent to the gateway either


def test_the_account_still_works_after_every_refusal(rig: BillingRig) -> None:
    for _, action, error, _ in CASES:
        with pytest.raises(error):
            action(rig)
    overview = rig.billing.overview(ACCOUNT)
    assert overview.used_minutes == Decimal(3)
    assert overview.held_minutes == Decimal(5)
    assert overview.wallet_balance == Money(1000, "INR")
    assert [n.status for n in rig.billing.numbers(ACCOUNT)] == ["active", "active"]
    assert rig.billing.end_call(ACCOUNT, "live", timedelta(minutes=2)).billable_seconds == 120
