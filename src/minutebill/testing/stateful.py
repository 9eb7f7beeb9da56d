"""A stateful comparison of any store against the in-memory one, through `Billing`.

`billing_machine(make_store)` returns a Hypothesis ``RuleBasedStateMachine`` that runs the same
random session of use cases — subscribing, starting, ending (and replaying) and releasing
calls, bundle checkouts and top-ups whose webhooks arrive duplicated and reordered, number
purchases, Auto-Pay, releases, plan changes, time passing and `Billing.run_due` — against two
`Billing` services that share one clock: one on the store under test, one on `MemoryStore`.
After every step it checks that both gave the same answers, that their stores hold the same
documents, and that the ledger's conservation law and "every call settles once" hold::

    from contextlib import contextmanager

    @contextmanager
    def my_store():
        store = MyStore(...)
        try:
            yield store.unit_of_work
        finally:
            store.close()

    TestMyStoreMachine = billing_machine(my_store).TestCase

`BillingRig` is the wiring the machine (and a test) needs: a `Billing` on a store with a
`FixedClock` and a `FakePaymentGateway`; `store_contents` reads everything a store holds for
some accounts, to compare two stores or one store before and after a refused request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack
from datetime import UTC, date, datetime, timedelta
from operator import methodcaller
from typing import Any

from attrs import frozen
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from minutebill._unit_of_work import UnitOfWork
from minutebill.adapters.memory import MemoryStore
from minutebill.catalog import Catalog
from minutebill.domain.money import Money
from minutebill.domain.payment_methods import Upi
from minutebill.domain.payment_status import PaymentStatus
from minutebill.errors import MinutebillError
from minutebill.ports import EventPublisher
from minutebill.service import Billing
from minutebill.testing.fakes import FakePaymentGateway, FixedClock, Outcome, Webhook

__all__ = [
    "ACCOUNTS",
    "START",
    "BillingComparison",
    "BillingRig",
    "StoreFactory",
    "billing_machine",
    "outcome_of",
    "reference_catalog",
    "store_contents",
]

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
"""When a rig's clock starts (a Monday morning, UTC)."""

ACCOUNTS = ("acct-a", "acct-b")
PLANS = ("starter", "pro", "enterprise")
BUNDLES = ("nexus", "pro", "elite")
NUMBERS = ("+919800000001", "+919800000002", "+919800000003")
MANDATE = "mandate-upi-1"
UPI = Upi("asha@okaxis")

StoreFactory = Callable[[], AbstractContextManager[Callable[[], UnitOfWork]]]
"""Opens a fresh, empty store and yields its unit-of-work factory; closes it on exit."""


_CHARGE = {"mode": "charge_wallet", "rate_per_minute": "1.50"}
_ARREARS = {"mode": "bill_in_arrears", "rate_per_minute": "1.20"}
_PLANS = (  # code, price, minutes, concurrent calls, numbers, queue priority, rating, overage
    ("starter", "1999.00", 1000, 2, 1, 0, "60/60", {"mode": "block"}),
    ("pro", "7999.00", 5000, 10, 5, 5, "60/60", _CHARGE),
    ("enterprise", "24999.00", 20000, 50, 25, 10, "60/6", _ARREARS),
)
_BUNDLES = (  # code, minutes, price, validity
    ("nexus", 300, "449.00", "plan_period"),
    ("pro", 150, "239.00", "plan_period"),
    ("elite", 100, "169.00", 30),
)
_FIELDS = ("price", "included_minutes", "concurrent_calls", "phone_numbers", "queue_priority")
_REFERENCE: dict[str, Any] = {
    "currency": "INR",
    "plans": [
        {"code": p[0], "name": p[0].title(), "interval_months": 1, "rating": p[6]}
        | dict(zip(_FIELDS, p[1:6], strict=True))
        | {"overage": p[7]}
        for p in _PLANS
    ],
    "bundles": [
        {"code": c, "name": c.title(), "minutes": m, "price": p, "validity": v}
        for c, m, p, v in _BUNDLES
    ],
    "number_offers": [
        {
            "code": "in-local",
            "country": "IN",
            "kind": "local",
            "capabilities": ["voice", "sms"],
            "monthly_fee": "500.00",
            "upfront_fee": "1000.00",
            "interval_months": 1,
        }
    ],
}


def reference_catalog() -> Catalog:
    """The catalog of ``examples/catalog.toml``: Starter/Pro/Enterprise, Nexus/Pro/Elite, in-local.

    Kept here so the kit works from an installed wheel, where ``examples/`` is not shipped.
    """
    return Catalog.from_mapping(_REFERENCE, source="minutebill.testing.stateful")


@frozen
class BillingRig:
    """A `Billing` on a store, driven by a `FixedClock` and a `FakePaymentGateway`.

    Attributes:
        billing: The service under test.
        clock: Its clock (advance it to let time pass).
        gateway: Its payment gateway (script outcomes, take webhooks).
        uow_factory: The store's unit-of-work factory, for reading the store directly.
    """

    billing: Billing
    clock: FixedClock
    gateway: FakePaymentGateway
    uow_factory: Callable[[], UnitOfWork]

    @classmethod
    def build(
        cls,
        uow_factory: Callable[[], UnitOfWork],
        *,
        clock: FixedClock | None = None,
        catalog: Catalog | None = None,
        publisher: EventPublisher | None = None,
        secret: bytes = b"whsec-minutebill-tests",
        echo_refund_reference: bool = True,
        **options: Any,
    ) -> BillingRig:
        """Wire a `Billing` to `uow_factory` with a fake gateway that knows `MANDATE`.

        `echo_refund_reference` goes to the `FakePaymentGateway` (False: its refund webhooks
        carry only the gateway's refund id). `options` go to `Billing` as they are
        (``remedy=``, ``number_policy=``, ...).
        """
        clock = clock or FixedClock(START)
        gateway = FakePaymentGateway(
            secret=secret, clock=clock, echo_refund_reference=echo_refund_reference
        )
        gateway.add_mandate(MANDATE)
        billing = Billing(
            uow_factory,
            gateway,
            catalog or reference_catalog(),
            clock,
            publisher=publisher,
            **options,
        )
        return cls(billing, clock, gateway, uow_factory)

    def deliver(self, webhooks: Iterable[Webhook]) -> list[Any]:
        """Hand each webhook to `Billing.handle_gateway_event`, in the order given."""
        return [self.billing.handle_gateway_event(w.body, w.headers) for w in webhooks]

    def contents(self, account_ids: Iterable[str] = ACCOUNTS) -> dict[str, Any]:
        """`store_contents` of this rig's store."""
        return store_contents(self.uow_factory, account_ids)


def store_contents(
    uow_factory: Callable[[], UnitOfWork], account_ids: Iterable[str]
) -> dict[str, Any]:
    """Everything a store holds for `account_ids`, as plain data that compares with ``==``.

    Every aggregate's state and version, every usage record (all pages), the per-day and
    per-tag totals over all time, and the outbox (accounts, names and payloads, in order).
    """
    contents: dict[str, Any] = {}
    with uow_factory() as uow:
        for account_id in account_ids:
            for kind in ("ledgers", "wallets", "subscriptions", "numbers", "orders", "payments"):
                repository = getattr(uow, kind)
                contents[f"{account_id}/{kind}"] = [
                    (getattr(a, "version", 0), a.to_state())
                    for a in repository.for_account(account_id)
                ]
            contents[f"{account_id}/usage"] = [r.to_state() for r in _all_usage(uow, account_id)]
            contents[f"{account_id}/daily"] = uow.usage.daily(account_id, *_ALL_DAYS)
            contents[f"{account_id}/by_tag"] = uow.usage.by_tag(account_id, *_ALL_DAYS)
    with uow_factory() as uow:  # the outbox is read in a unit of its own (see `Outbox`)
        entries = uow.outbox.since(0, limit=1_000_000)
        contents["outbox"] = [(e.account_id, e.name, e.payload) for e in entries]
    return contents


_ALL_DAYS = (date(2000, 1, 1), date(2100, 1, 1))


def _all_usage(uow: UnitOfWork, account_id: str) -> Iterator[Any]:
    cursor: str | None = None
    while True:
        page = uow.usage.page(account_id, cursor=cursor, limit=7)
        yield from page.records
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def outcome_of(action: Callable[[], Any]) -> tuple[str, Any]:
    """``("ok", result)`` or ``("error", (type name, message))``: what a use case answered."""
    try:
        return ("ok", action())
    except MinutebillError as exc:
        return ("error", (type(exc).__name__, str(exc)))


class BillingComparison(RuleBasedStateMachine):
    """`Billing` on the store from `make_store` against `Billing` on `MemoryStore`, step by step.

    Use `billing_machine` to make one for your store; this base class has no store.
    """

    def __init__(self) -> None:
        super().__init__()
        self._stack = ExitStack()
        self.clock = FixedClock(START)
        subject = self._stack.enter_context(self.open_store())
        self.subject = BillingRig.build(subject, clock=self.clock)
        self.model = BillingRig.build(MemoryStore().unit_of_work, clock=self.clock)
        self.settled: dict[tuple[str, str], Any] = {}
        self.pending: list[Webhook] = []

    def open_store(self) -> AbstractContextManager[Callable[[], UnitOfWork]]:
        """Open a fresh store under test (`billing_machine` overrides this)."""
        raise TypeError("use billing_machine(make_store) to make a machine for a store")

    def teardown(self) -> None:
        """Close the store under test."""
        self._stack.close()

    def both(self, action: Callable[[Billing], Any]) -> tuple[str, Any]:
        """Run `action` on both services and insist they answer alike."""
        model = outcome_of(lambda: action(self.model.billing))
        subject = outcome_of(lambda: action(self.subject.billing))
        _require(subject == model, f"store under test answered {subject!r}, memory {model!r}")
        return model

    def _script(self, outcome: Outcome) -> None:
        for rig in (self.subject, self.model):
            rig.gateway.script(outcome)

    def _collect_webhooks(self) -> None:
        theirs = self.subject.gateway.take_webhooks()
        ours = self.model.gateway.take_webhooks()
        _require([w.body for w in theirs] == [w.body for w in ours], "different webhooks")
        self.pending.extend(ours)

    # --- plans ------------------------------------------------------------------------------

    @initialize(
        plans=st.tuples(st.sampled_from(PLANS), st.sampled_from(PLANS)),
        wallet=st.sampled_from([0, 500, 30000]),
        number=st.booleans(),
    )
    def open_accounts(self, plans: tuple[str, str], wallet: int, number: bool) -> None:
        """Both accounts start on a plan; the first may have money and a number."""
        first = ACCOUNTS[0]
        for account, plan in zip(ACCOUNTS, plans, strict=True):
            self.both(methodcaller("subscribe", account, plan, timezone="Asia/Kolkata"))
        if wallet:
            self._script(Outcome.SUCCEED)
            self.both(lambda b: b.top_up(first, Money(wallet, "INR"), UPI, idempotency_key="seed"))
        if number:
            self._script(Outcome.SUCCEED)
            self.both(
                lambda b: b.acquire_number(
                    first, "in-local", NUMBERS[0], UPI, idempotency_key="seed-number"
                )
            )
        self._collect_webhooks()

    @rule(
        account=st.sampled_from(ACCOUNTS),
        plan=st.sampled_from(PLANS),
        timezone=st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York"]),
    )
    def subscribe(self, account: str, plan: str, timezone: str) -> None:
        """Open an account (again: the same plan answers, another refuses, an ended one anew)."""
        self.both(lambda b: b.subscribe(account, plan, timezone=timezone))

    @rule(account=st.sampled_from(ACCOUNTS), plan=st.sampled_from(PLANS))
    def change_plan(self, account: str, plan: str) -> None:
        """Quote a plan change and apply the quote (the wallet pays an upgrade)."""
        quoted = self.both(lambda b: b.quote_plan_change(account, plan))
        if quoted[0] == "ok":
            self.both(lambda b: b.change_plan(account, b.quote_plan_change(account, plan)))

    # --- calls ------------------------------------------------------------------------------

    @rule(
        account=st.sampled_from(ACCOUNTS),
        call=st.integers(0, 11),
        max_seconds=st.none() | st.integers(1, 3 * 3600),
    )
    def start_call(self, account: str, call: int, max_seconds: int | None) -> None:
        """Ask to start a call (asking again answers the same; a settled call is refused)."""
        call_id = f"call-{call}"
        answer = self.both(lambda b: b.start_call(account, call_id, max_seconds=max_seconds))
        if (account, call_id) in self.settled:
            _require(
                answer[0] == "error" and answer[1][0] == "InvalidTransition",
                f"a settled call id was not refused: {answer}",
            )

    @rule(
        account=st.sampled_from(ACCOUNTS),
        call=st.integers(0, 11),
        seconds=st.integers(0, 2 * 3600),
        tags=st.sets(st.sampled_from(["campaign-a", "campaign-b", "agent-7"]), max_size=2),
    )
    def end_call(self, account: str, call: int, seconds: int, tags: set[str]) -> None:
        """End a call: the first time settles it, a replay returns the same, other input fails."""
        call_id = f"call-{call}"
        duration = timedelta(seconds=seconds)
        answer = self.both(lambda b: b.end_call(account, call_id, duration, tags=sorted(tags)))
        first = self.settled.get((account, call_id))
        if answer[0] == "ok":
            record = answer[1]
            _require(first is None or record == first, "a replay must return the first record")
            self.settled[(account, call_id)] = record
        elif first is not None:
            _require(answer[1][0] == "IdempotencyConflict", f"a settled call answered {answer}")

    @rule(account=st.sampled_from(ACCOUNTS), call=st.integers(0, 11))
    def release_call(self, account: str, call: int) -> None:
        """Free a call that never connected."""
        self.both(lambda b: b.release_call(account, f"call-{call}"))

    @rule(account=st.sampled_from(ACCOUNTS))
    def admit_waiting(self, account: str) -> None:
        """Start waiting calls that now have a slot (never one that was settled)."""
        answer = self.both(lambda b: b.admit_waiting(account))
        if answer[0] == "ok":
            for admitted in answer[1]:
                call_id = admitted.reservation.call_id
                _require((account, call_id) not in self.settled, f"{call_id} was settled")

    # --- checkout and payments --------------------------------------------------------------

    @rule(
        account=st.sampled_from(ACCOUNTS),
        bundle=st.sampled_from(BUNDLES),
        key=st.integers(0, 5),
        outcome=st.sampled_from([Outcome.SUCCEED, Outcome.STAY_PENDING, Outcome.FAIL]),
    )
    def checkout_bundle(self, account: str, bundle: str, key: int, outcome: Outcome) -> None:
        """Buy add-on minutes (a reused key continues the purchase or conflicts)."""
        self._script(outcome)
        self.both(lambda b: b.checkout_bundle(account, bundle, UPI, idempotency_key=f"k{key}"))
        self._collect_webhooks()

    @rule(
        account=st.sampled_from(ACCOUNTS),
        rupees=st.sampled_from([100, 600, 2500, 9000]),
        key=st.integers(0, 5),
        outcome=st.sampled_from([Outcome.SUCCEED, Outcome.STAY_PENDING, Outcome.FAIL]),
    )
    def top_up(self, account: str, rupees: int, key: int, outcome: Outcome) -> None:
        """Top up the wallet."""
        self._script(outcome)
        amount = Money(rupees, "INR")
        self.both(lambda b: b.top_up(account, amount, UPI, idempotency_key=f"k{key}"))
        self._collect_webhooks()

    @rule(
        account=st.sampled_from(ACCOUNTS),
        number=st.sampled_from(NUMBERS),
        key=st.integers(0, 2),
        auto_pay=st.booleans(),
        mandate=st.booleans(),
        outcome=st.sampled_from([Outcome.SUCCEED, Outcome.STAY_PENDING, Outcome.FAIL]),
    )
    def acquire_number(
        self, account: str, number: str, key: int, auto_pay: bool, mandate: bool, outcome: Outcome
    ) -> None:
        """Buy a phone number, with or without Auto-Pay and a mandate."""
        self._script(outcome)
        self.both(
            lambda b: b.acquire_number(
                account,
                "in-local",
                number,
                UPI,
                idempotency_key=f"n{number[-1]}-{key}",
                auto_pay=auto_pay,
                mandate_id=MANDATE if mandate else None,
            )
        )
        self._collect_webhooks()

    @rule(account=st.sampled_from(ACCOUNTS), number=st.sampled_from(NUMBERS), key=st.integers(0, 2))
    def buy_a_number_twice(self, account: str, number: str, key: int) -> None:
        """Two purchases of one number before either is paid: paying both refunds one."""
        for copy in "ab":
            self._script(Outcome.STAY_PENDING)
            key_of_copy = f"t{number[-1]}-{key}{copy}"
            self.both(
                methodcaller(
                    "acquire_number", account, "in-local", number, UPI, idempotency_key=key_of_copy
                )
            )
        self._collect_webhooks()

    @rule(status=st.sampled_from([PaymentStatus.SUCCEEDED, PaymentStatus.FAILED]))
    def gateway_settles_pending(self, status: PaymentStatus) -> None:
        """The gateway decides the open payments (their webhooks queue up)."""
        for rig in (self.model, self.subject):
            with rig.uow_factory() as uow:
                gateway_ids = sorted(
                    p.gateway_payment_id
                    for account in ACCOUNTS
                    for p in uow.payments.for_account(account)
                    if p.status.is_open and p.gateway_payment_id is not None
                )
            for gateway_id in gateway_ids:
                rig.gateway.move(gateway_id, status)
        self._collect_webhooks()

    @rule(
        outcome=st.sampled_from(
            [Outcome.UNAVAILABLE, Outcome.TIME_OUT, Outcome.STAY_PENDING, Outcome.FAIL]
        )
    )
    def gateway_falters_on_a_refund(self, outcome: Outcome) -> None:
        """The next refund call (a remedy's) is lost, refused, left pending or failed."""
        for rig in (self.subject, self.model):
            rig.gateway.script_refunds(outcome)

    @precondition(lambda self: bool(self.pending))
    @rule(data=st.data())
    def deliver_webhooks(self, data: st.DataObject) -> None:
        """Deliver queued webhooks: some twice or more, in any order, some not yet."""
        picks = data.draw(
            st.lists(st.integers(0, len(self.pending) - 1), min_size=1, max_size=8),
            label="deliveries",
        )
        for index in picks:
            hook = self.pending[index]
            self.both(methodcaller("handle_gateway_event", hook.body, hook.headers))
        if data.draw(st.booleans(), label="forget delivered"):
            self.pending = [w for i, w in enumerate(self.pending) if i not in set(picks)]

    # --- numbers ----------------------------------------------------------------------------

    def _number(self, data: st.DataObject, account: str) -> str:
        """Mostly a number the account holds; sometimes any (NotFound must agree too)."""
        with self.model.uow_factory() as uow:
            held = sorted(n.number_e164 for n in uow.numbers.for_account(account))
        choices = st.sampled_from(NUMBERS)
        if held:
            choices = st.sampled_from(held) | choices
        return data.draw(choices, label="number")

    @rule(account=st.sampled_from(ACCOUNTS), on=st.booleans(), data=st.data())
    def set_auto_pay(self, account: str, on: bool, data: st.DataObject) -> None:
        """Toggle Auto-Pay (turning it on for a held number charges at once)."""
        number = self._number(data, account)
        self.both(lambda b: b.set_auto_pay(account, number, on))
        self._collect_webhooks()

    @rule(account=st.sampled_from(ACCOUNTS), data=st.data())
    def release_number(self, account: str, data: st.DataObject) -> None:
        """Release a number."""
        number = self._number(data, account)
        self.both(lambda b: b.release_number(account, number))

    # --- time -------------------------------------------------------------------------------

    @rule(
        step=st.sampled_from(
            [
                timedelta(minutes=7),
                timedelta(hours=5),
                timedelta(days=1),
                timedelta(days=3),
                timedelta(days=8),
                timedelta(days=31),
            ]
        ),
        twice=st.booleans(),
    )
    def time_passes(self, step: timedelta, twice: bool) -> None:
        """Let time pass and run the due work (twice for the same instant: nothing doubles)."""
        self.clock.advance(step)
        self.both(lambda b: b.run_due())
        if twice:
            self.both(lambda b: b.run_due())
        self._collect_webhooks()

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def views_agree(self) -> None:
        """Overviews, number tables and usage pages are the same in both stores."""
        for account in ACCOUNTS:
            self.both(methodcaller("overview", account))
            self.both(methodcaller("numbers", account))
            self.both(methodcaller("usage_history", account, limit=500))

    @invariant()
    def stores_agree(self) -> None:
        """Both stores hold the same documents, versions, usage records and outbox."""
        _require(self.subject.contents() == self.model.contents(), "the stores differ")

    @invariant()
    def minutes_are_conserved(self) -> None:
        """Σ granted = remaining + held + consumed + expired, and calls settle once."""
        with self.subject.uow_factory() as uow:
            for account in ACCOUNTS:
                ledger = uow.ledgers.find(account)
                records = list(_all_usage(uow, account))
                calls = [r.call_id for r in records]
                _require(len(calls) == len(set(calls)), f"a call was settled twice: {calls}")
                ended = {c for a, c in self.settled if a == account}
                _require(set(calls) == ended, f"settled {sorted(calls)}, ended {sorted(ended)}")
                if ledger is None:
                    _require(not records, "usage without a ledger")
                    continue
                t = ledger.totals()
                _require(
                    t.granted == t.remaining + t.held + t.consumed + t.expired,
                    f"minutes not conserved: {t}",
                )
                debited = sum(d.seconds for r in records for d in r.debits)
                _require(debited == t.consumed, f"calls debited {debited}, ledger {t.consumed}")
                for r in records:
                    billed = sum(d.seconds for d in r.debits) + r.overage_seconds
                    _require(r.billable_seconds == billed, f"{r.call_id} lost seconds")

    @invariant()
    def held_numbers_are_paid_when_the_wallet_covers_them(self) -> None:
        """No number with Auto-Pay is left On Hold, within its grace, by a wallet that pays it.

        Whatever put it there (a decline, a debit failed later, a top-up while a debit was
        pending), the service pays it from the wallet in the same step (the rig's service
        charges no tax, so the fee is what the wallet pays).
        """
        now = self.clock.now()
        with self.model.uow_factory() as uow:
            for account in ACCOUNTS:
                wallet = uow.wallets.find(account)
                if wallet is None:
                    continue
                for number in uow.numbers.for_account(account):
                    hold = number.hold
                    _require(
                        hold is None
                        or not number.auto_pay
                        or now >= hold.release_after
                        or not wallet.can_cover(number.recurring_fee),
                        f"{number.number_e164} on hold with {wallet.balance} in the wallet",
                    )


def billing_machine(make_store: StoreFactory, *, name: str = "") -> type[BillingComparison]:
    """A `BillingComparison` for the store `make_store` opens; run its ``.TestCase``."""

    class Machine(BillingComparison):
        def open_store(self) -> AbstractContextManager[Callable[[], UnitOfWork]]:
            return make_store()

    Machine.__name__ = Machine.__qualname__ = name or "BillingComparisonMachine"
    return Machine


def _require(ok: bool, message: str) -> None:
    """Fail the machine's step (unlike ``assert``, also under ``python -O``)."""
    if not ok:
        raise AssertionError(message)
