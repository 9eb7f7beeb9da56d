"""Plan subscriptions: periods, renewals, plan changes, cancelation.

A `Subscription` is the aggregate behind the top of the billing page: the current plan, Next
Billing and Plan Expiry. Its periods come from a `BillingCycle` (anchor, interval, time zone),
so they tile time without gap or overlap whatever the renewal history. Minutes live in the
account's `MinuteLedger`; the subscription grants each period's plan seconds there under a
deterministic grant id (``plan:<account>:<period>``), so nothing is ever granted twice.

Status moves like this (``renew`` and ``lapse`` are driven by the host's due-work job):

```text
ACTIVE   ──renew(paid)────▶ ACTIVE (next period)
ACTIVE   ──renew(failed)──▶ PAST_DUE ──renew(paid)──▶ ACTIVE
PAST_DUE ──grace over─────▶ EXPIRED
PAST_DUE ──cancel─────────▶ EXPIRED
ACTIVE   ──cancel─────────▶ CANCELED ──resume──▶ ACTIVE
CANCELED ──period end─────▶ EXPIRED
EXPIRED  ──start_again────▶ a new subscription (ACTIVE, new anchor, next generation)
```

An expired subscription is not revived: `start_again` makes a new one for the same account,
anchored when it starts, with a fresh plan grant. The account keeps its ledger (grants the
old subscription made have expired with its periods; add-on and promotional minutes that are
still valid stay usable) and its time zone. Ids the subscription derives (plan and rollover
grant ids, renewal keys) carry its `generation` from the second subscription on, so they never
repeat those of an earlier one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from attrs import define, evolve, field

from minutebill.domain.catalog import Plan
from minutebill.domain.events import DomainEvent, EventBuffer
from minutebill.domain.ledger import GrantSource, LedgerPolicy, MinuteLedger
from minutebill.domain.money import Money
from minutebill.domain.periods import BillingCycle, BillingInterval, BillingPeriod, to_utc, zone
from minutebill.domain.proration import (
    DEFAULT_QUOTE_VALIDITY,
    PlanChangeKind,
    PlanChangeQuote,
    ProrationPolicy,
    plan_from_state,
    plan_to_state,
    quote_plan_change,
)
from minutebill.domain.state import (
    State,
    instant_from_state,
    instant_to_state,
    optional_instant_from_state,
    optional_instant_to_state,
)
from minutebill.domain.subscription_events import (
    PlanChanged,
    PlanChangeScheduled,
    ScheduledPlanChangeCanceled,
    SubscriptionCanceled,
    SubscriptionExpired,
    SubscriptionPastDue,
    SubscriptionRenewed,
    SubscriptionResumed,
    SubscriptionStarted,
)
from minutebill.domain.subscription_terms import (
    DEFAULT_GRACE_PERIOD,
    PaymentOutcome,
    RenewalResult,
    RolloverPolicy,
    ScheduledChange,
    SubscriptionStatus,
)
from minutebill.domain.tax import TaxPolicy
from minutebill.domain.text import require_key
from minutebill.errors import InvalidTransition, LimitExceeded, ValidationError

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "PaymentOutcome",
    "RenewalResult",
    "RolloverPolicy",
    "ScheduledChange",
    "Subscription",
    "SubscriptionStatus",
]

_MICROSECOND = timedelta(microseconds=1)


def _require_grace(value: object) -> None:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise ValidationError("grace_period", value, "a timedelta >= 0")


@define
class Subscription:
    """An account's plan subscription (an aggregate).

    Change it only through its methods. Every method validates everything before changing
    anything, on the subscription and on the ledger: a refused call changes nothing.

    Attributes:
        account_id: The subscriber.
        plan: The current plan, stored whole (a catalog price change does not touch it).
        cycle: The anchor, interval and time zone its periods come from.
        status: ACTIVE, PAST_DUE, EXPIRED or CANCELED.
        period_index: The number of the last paid period (0 is the first).
        grace_period: How long it stays PAST_DUE after a failed renewal.
        rollover: What happens to unused plan minutes at renewal.
        scheduled_change: A downgrade waiting for the period end, if any.
        grace_until: While PAST_DUE, when it expires unless paid.
        ended_at: When it expired, once EXPIRED.
        last_quote_id: The last plan-change quote applied (applying it again does nothing).
        generation: How many subscriptions the account had before this one (0 for the first;
            `start_again` counts up).
        version: The stored version, for optimistic concurrency (the store bumps it).
    """

    account_id: str
    plan: Plan
    cycle: BillingCycle
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    period_index: int = 0
    grace_period: timedelta = DEFAULT_GRACE_PERIOD
    rollover: RolloverPolicy = field(factory=RolloverPolicy.none)
    scheduled_change: ScheduledChange | None = None
    grace_until: datetime | None = None
    ended_at: datetime | None = None
    last_quote_id: str | None = None
    generation: int = 0
    version: int = 0
    _events: EventBuffer = field(factory=EventBuffer, init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        require_key("account_id", self.account_id)
        if not isinstance(self.plan, Plan):
            raise ValidationError("plan", self.plan, "expected a Plan")
        if not isinstance(self.cycle, BillingCycle):
            raise ValidationError("cycle", self.cycle, "expected a BillingCycle")
        if not isinstance(self.status, SubscriptionStatus):
            raise ValidationError("status", self.status, "expected a SubscriptionStatus")
        if not isinstance(self.rollover, RolloverPolicy):
            raise ValidationError("rollover", self.rollover, "expected a RolloverPolicy")
        if self.plan.interval != self.cycle.interval:
            raise ValidationError("plan", self.plan.code, "its interval differs from the cycle's")
        _require_grace(self.grace_period)
        value = self.generation
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError("generation", value, "an int >= 0")

    # --- starting ---------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        account_id: str,
        plan: Plan,
        at: datetime,
        *,
        ledger: MinuteLedger,
        timezone: str = "UTC",
        grace_period: timedelta = DEFAULT_GRACE_PERIOD,
        rollover: RolloverPolicy | None = None,
    ) -> Subscription:
        """Subscribe `account_id` to `plan` from `at` (the anchor), once it is paid.

        Grants the first period's plan seconds on `ledger`, opens the period there and sets
        the ledger's rating and overage rule to the plan's.

        Raises:
            ValidationError: for a bad account, plan, time, zone, grace period or rollover
                policy, or a ledger of another account or already counting a later period.
        """
        return cls._open(
            account_id,
            plan,
            at,
            ledger=ledger,
            timezone=timezone,
            grace_period=grace_period,
            rollover=rollover,
            generation=0,
        )

    def start_again(
        self,
        plan: Plan,
        at: datetime,
        *,
        ledger: MinuteLedger,
        rollover: RolloverPolicy | None = None,
    ) -> Subscription:
        """A new subscription to `plan` from `at` for this EXPIRED one's account.

        The new subscription is anchored at `at` (its first period starts then, as for
        `start`), grants that period's plan seconds on the account's `ledger` and is one
        `generation` on, so its grant ids and renewal keys are new. It keeps this one's time
        zone, grace period and (unless `rollover` is given) rollover policy. On the ledger,
        grants past their expiry (the old plan grants) are expired first; grants still valid
        (add-on bundles, promotional credit) stay. Events this subscription recorded and
        nobody pulled yet (its expiry, say) move to the new one, ahead of its
        `SubscriptionStarted`, so a store that saves the new subscription in the old one's
        place publishes them. Otherwise this subscription is left as it was.

        Raises:
            InvalidTransition: unless this subscription is EXPIRED (resume a canceled one
                before its period ends; a past-due one renews once paid).
            ValidationError: for a bad plan or time, a time before this one ended, or a
                ledger of another account or already counting a later period.
        """
        at = to_utc(at)
        if not isinstance(plan, Plan):
            raise ValidationError("plan", plan, "expected a Plan")
        _check_ledger(self.account_id, ledger)
        if self.status is not SubscriptionStatus.EXPIRED:
            raise InvalidTransition(self._name, self.status.value, "start again")
        if self.ended_at is not None and at < self.ended_at:
            raise ValidationError("at", at, f"before the subscription ended at {self.ended_at}")
        successor = Subscription._open(
            self.account_id,
            plan,
            at,
            ledger=ledger,
            timezone=self.cycle.timezone,
            grace_period=self.grace_period,
            rollover=self.rollover if rollover is None else rollover,
            generation=self.generation + 1,
        )
        for event in [*self.pull_events(), *successor.pull_events()]:
            successor._record(event)  # noqa: SLF001 - the same class
        return successor

    @classmethod
    def _open(
        cls,
        account_id: str,
        plan: Plan,
        at: datetime,
        *,
        ledger: MinuteLedger,
        timezone: str,
        grace_period: timedelta,
        rollover: RolloverPolicy | None,
        generation: int,
    ) -> Subscription:
        """`start` and `start_again`: check everything, then open the first period."""
        at = to_utc(at)
        require_key("account_id", account_id)
        if not isinstance(plan, Plan):
            raise ValidationError("plan", plan, "expected a Plan")
        zone(timezone)
        _check_ledger(account_id, ledger)
        subscription = cls(
            account_id=account_id,
            plan=plan,
            cycle=BillingCycle(at, plan.interval, timezone),
            grace_period=grace_period,
            rollover=RolloverPolicy.none() if rollover is None else rollover,
            generation=generation,
        )
        period = subscription.current_period
        _check_ledger_period(ledger, period)
        if generation:
            ledger.expire(at)  # an earlier subscription's plan grants ended with its periods
        _apply_plan_policy(ledger, plan, at)
        ledger.open_period(period, at)
        granted = subscription._grant_plan(ledger, plan, 0, period, at)
        subscription._record(
            SubscriptionStarted(
                account_id=account_id,
                occurred_at=at,
                plan_code=plan.code,
                period_start=period.start,
                period_end=period.end,
                granted_seconds=granted,
            )
        )
        return subscription

    # --- what the billing page shows --------------------------------------------------------

    @property
    def current_period(self) -> BillingPeriod:
        """The last paid period (while PAST_DUE, the one whose renewal failed)."""
        return self.cycle.period(self.period_index)

    @property
    def auto_renew(self) -> bool:
        """Whether the subscription renews at the period end (off once canceled or expired)."""
        return self.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)

    @property
    def next_billing_at(self) -> datetime | None:
        """When the next renewal charge is due: *Next Billing*.

        The current period's end while ACTIVE; while PAST_DUE the missed due date (in the
        past: the bill is overdue); None once CANCELED or EXPIRED (nothing more is billed).
        """
        return self.current_period.end if self.auto_renew else None

    @property
    def expires_at(self) -> datetime | None:
        """When service ends unless another payment succeeds: *Plan Expiry*.

        The current period's end while ACTIVE or CANCELED; the end of the grace period while
        PAST_DUE; the moment it ended once EXPIRED.
        """
        if self.status is SubscriptionStatus.PAST_DUE:
            return self.grace_until
        if self.status is SubscriptionStatus.EXPIRED:
            return self.ended_at
        return self.current_period.end

    @property
    def renewal_plan(self) -> Plan:
        """The plan the next period will be on (a scheduled downgrade, or the current plan)."""
        return self.plan if self.scheduled_change is None else self.scheduled_change.plan

    @property
    def phone_numbers_limit(self) -> int:
        """How many non-released numbers the account may hold: the plan's `phone_numbers`.

        While a downgrade is scheduled, the smaller of the current and the next plan's limits,
        so that a number bought now still fits when the downgrade takes effect. Pass it to
        `check_number_limit` before selling a number.
        """
        return min(self.plan.features.phone_numbers, self.renewal_plan.features.phone_numbers)

    @property
    def renewal_key(self) -> str:
        """An idempotency key for charging the next renewal: one per (subscription, period)."""
        return f"renewal:{self._scope}:{self.period_index + 1}"

    def is_in_service(self, at: datetime) -> bool:
        """Whether calls may use the plan at `at` (ACTIVE, or CANCELED/PAST_DUE not yet over).

        An ACTIVE subscription whose renewal is due but not yet run stays in service: the
        renewal job decides, and its plan minutes expired with the period anyway.
        """
        at = to_utc(at)
        if self.status is SubscriptionStatus.ACTIVE:
            return at >= self.cycle.anchor
        if self.status is SubscriptionStatus.CANCELED:
            return self.cycle.anchor <= at < self.current_period.end
        if self.status is SubscriptionStatus.PAST_DUE:
            return self.grace_until is not None and at < self.grace_until
        return False

    def renewal_due(self, at: datetime) -> bool:
        """Whether the host should charge `renewal_plan.price` and call `renew` now."""
        return self.auto_renew and to_utc(at) >= self.current_period.end

    # --- renewal and expiry -----------------------------------------------------------------

    def renew(
        self, at: datetime, payment_outcome: PaymentOutcome, ledger: MinuteLedger
    ) -> RenewalResult:
        """Record the outcome of the renewal charge for the period after the current one.

        Paid: opens the next period on `renewal_plan` (a scheduled downgrade applies), carries
        unused plan seconds per `rollover`, expires the old plan grant and grants the new
        period's seconds until its end. Failed: PAST_DUE until ``due + grace_period``, EXPIRED
        after. A payment that succeeds renews even after the grace period, as long as nothing
        expired the subscription first (`lapse`): the money was taken, so the service is given.

        Idempotent per period: when the period containing `at` is already paid, nothing
        happens (`RenewalResult.NOT_DUE`); a repeated failure changes nothing either. Each
        call opens at most one period: a renewal run late by more than a period opens the
        periods one at a time, each paid for, so they tile time.

        Raises:
            InvalidTransition: if the subscription is CANCELED or EXPIRED (it does not renew).
            ValidationError: for a bad time or outcome, or a ledger of another account or
                already counting a later period.
        """
        at = to_utc(at)
        if not isinstance(payment_outcome, PaymentOutcome):
            raise ValidationError("payment_outcome", payment_outcome, "a PaymentOutcome")
        _check_ledger(self.account_id, ledger)
        if not self.auto_renew:
            raise InvalidTransition(self._name, self.status.value, "renew")
        due = self.current_period.end
        if at < due:
            return RenewalResult.NOT_DUE
        if payment_outcome is PaymentOutcome.FAILED:
            return self._renewal_failed(at, due)
        index = self.period_index + 1
        period = self.cycle.period(index)
        new_plan = self.renewal_plan
        changed = self.scheduled_change
        _check_ledger_period(ledger, period)
        rolled = 0
        if self.rollover.cap_seconds and at < period.end:
            carried = ledger.rollover(
                at,
                cap_seconds=self.rollover.cap_seconds,
                expires_at=period.end,
                grant_id=f"rollover:{self._scope}:{index}",
            )
            rolled = 0 if carried is None else carried.granted
        ledger.expire(at)
        if changed is not None:
            _apply_plan_policy(ledger, new_plan, at)
        ledger.open_period(period, at)
        granted = self._grant_plan(ledger, new_plan, index, period, at)
        old_plan = self.plan
        self.plan = new_plan
        self.period_index = index
        self.status = SubscriptionStatus.ACTIVE
        self.grace_until = None
        self.scheduled_change = None
        if changed is not None:
            self._record(
                PlanChanged(
                    account_id=self.account_id,
                    occurred_at=at,
                    from_plan_code=old_plan.code,
                    to_plan_code=new_plan.code,
                    kind=PlanChangeKind.DOWNGRADE.value,
                    charge=Money.zero(new_plan.price.currency),
                    granted_seconds=0,
                    quote_id=changed.quote_id,
                )
            )
        self._record(
            SubscriptionRenewed(
                account_id=self.account_id,
                occurred_at=at,
                plan_code=new_plan.code,
                period_index=index,
                period_start=period.start,
                period_end=period.end,
                granted_seconds=granted,
                rolled_over_seconds=rolled,
            )
        )
        return RenewalResult.RENEWED

    def _renewal_failed(self, at: datetime, due: datetime) -> RenewalResult:
        grace_until = due + self.grace_period if self.grace_until is None else self.grace_until
        if at >= grace_until:
            self._expire(at, "payment_failed", grace_until)
            return RenewalResult.EXPIRED
        if self.status is SubscriptionStatus.PAST_DUE:
            return RenewalResult.PAST_DUE
        self.status = SubscriptionStatus.PAST_DUE
        self.grace_until = grace_until
        self._record(
            SubscriptionPastDue(
                account_id=self.account_id, occurred_at=at, due_at=due, grace_until=grace_until
            )
        )
        return RenewalResult.PAST_DUE

    def lapse(self, at: datetime) -> bool:
        """Expire the subscription if its time is up; return whether it expired now.

        A CANCELED one expires at its period end, a PAST_DUE one at the end of its grace
        period. Anything else is left alone.
        """
        at = to_utc(at)
        if self.status is SubscriptionStatus.CANCELED and at >= self.current_period.end:
            self._expire(at, "canceled", self.current_period.end)
            return True
        if (
            self.status is SubscriptionStatus.PAST_DUE
            and self.grace_until is not None
            and at >= self.grace_until
        ):
            self._expire(at, "payment_failed", self.grace_until)
            return True
        return False

    def _expire(self, at: datetime, reason: str, ended_at: datetime) -> None:
        self.status = SubscriptionStatus.EXPIRED
        self.ended_at = ended_at
        self.grace_until = None
        self.scheduled_change = None
        self._record(
            SubscriptionExpired(
                account_id=self.account_id, occurred_at=at, reason=reason, ended_at=ended_at
            )
        )

    # --- cancel and resume ------------------------------------------------------------------

    def cancel(self, at: datetime) -> bool:
        """Turn auto-renew off; return whether anything changed.

        An ACTIVE subscription runs to the end of its paid period and then expires (CANCELED
        until then). A PAST_DUE one has no paid time left and expires at once. Canceling a
        CANCELED one does nothing.

        Raises:
            InvalidTransition: if it has already EXPIRED.
        """
        at = to_utc(at)
        if self.status is SubscriptionStatus.EXPIRED:
            raise InvalidTransition(self._name, self.status.value, "cancel")
        if self.status is SubscriptionStatus.CANCELED:
            return False
        ends_at = self.current_period.end
        if self.status is SubscriptionStatus.PAST_DUE:
            self._record(
                SubscriptionCanceled(account_id=self.account_id, occurred_at=at, ends_at=at)
            )
            self._expire(at, "canceled", at)
            return True
        self.status = SubscriptionStatus.CANCELED
        self._record(
            SubscriptionCanceled(account_id=self.account_id, occurred_at=at, ends_at=ends_at)
        )
        return True

    def resume(self, at: datetime) -> bool:
        """Turn auto-renew back on before the canceled period ends; return whether it changed.

        Raises:
            InvalidTransition: if it is PAST_DUE or EXPIRED, or the canceled period has ended.
        """
        at = to_utc(at)
        if self.status is SubscriptionStatus.ACTIVE:
            return False
        if self.status is not SubscriptionStatus.CANCELED or at >= self.current_period.end:
            state = "ended" if self.status is SubscriptionStatus.CANCELED else self.status.value
            raise InvalidTransition(self._name, state, "resume")
        self.status = SubscriptionStatus.ACTIVE
        self._record(
            SubscriptionResumed(
                account_id=self.account_id,
                occurred_at=at,
                next_billing_at=self.current_period.end,
            )
        )
        return True

    # --- plan changes -----------------------------------------------------------------------

    def change_plan(
        self,
        new_plan: Plan,
        at: datetime,
        *,
        policy: ProrationPolicy = ProrationPolicy.BY_SECOND,
        valid_for: timedelta = DEFAULT_QUOTE_VALIDITY,
        tax: TaxPolicy | None = None,
        numbers_held: int = 0,
    ) -> PlanChangeQuote:
        """Price a change to `new_plan` at `at`; changes nothing (apply the quote to do it).

        Under `tax` the quote states the tax on its charge as well, and its `total` is what
        the customer pays. A plan that allows fewer phone numbers than the account holds is
        refused: the customer releases numbers first (nothing is released for them).

        Args:
            new_plan: The plan to change to.
            at: When the change is priced.
            policy: How the rest of the period is prorated.
            valid_for: How long the quote may be applied.
            tax: The tax policy the charge is taxed under (None: untaxed).
            numbers_held: The account's non-released phone numbers (the service counts
                them; the subscription does not hold them).

        Raises:
            InvalidTransition: unless ACTIVE within its current period (a due renewal runs
                first; a canceled subscription is resumed first).
            ValidationError: for the same plan, another currency or interval, a time before
                the period, a bad `valid_for`, a `tax` that is not a `TaxPolicy` or a
                `numbers_held` that is not an int >= 0.
            LimitExceeded: if `new_plan`'s ``phone_numbers`` is below `numbers_held`, naming
                the limit and the count.
        """
        at = to_utc(at)
        if not isinstance(new_plan, Plan):
            raise ValidationError("new_plan", new_plan, "expected a Plan")
        if not isinstance(policy, ProrationPolicy):
            raise ValidationError("policy", policy, "a ProrationPolicy")
        _require_count(numbers_held)
        self._require_changeable(at, "change the plan of")
        quote = quote_plan_change(
            account_id=self.account_id,
            period_index=self.period_index,
            period=self.current_period,
            current=self.plan,
            new=new_plan,
            at=at,
            policy=policy,
            timezone=self.cycle.timezone,
            valid_for=valid_for,
            tax=tax,
        )
        _require_room_for_numbers(new_plan, numbers_held)
        return quote

    def apply_plan_change(
        self, quote: PlanChangeQuote, at: datetime, ledger: MinuteLedger, *, numbers_held: int = 0
    ) -> None:
        """Carry out `quote` at `at`: what it showed is what is charged and granted.

        An upgrade switches the plan now, grants `quote.granted_seconds` until the period end
        and swaps the ledger's rating and overage rule; the host charges `quote.total` (the
        charge with its tax). A
        downgrade is scheduled for the period end. Applying the same quote again does nothing.

        The account's numbers are counted again here: numbers bought since the quote was
        priced may no longer fit the new plan.

        Args:
            quote: A quote from `change_plan`.
            at: When the change is applied.
            ledger: The account's minute ledger (an upgrade grants on it).
            numbers_held: The account's non-released phone numbers now.

        Raises:
            ValidationError: if the quote is for another account, has expired
                (``at >= valid_until``), is applied before it was priced, or was priced for
                another period or plan than the current ones; or a ledger of another account,
                or a `numbers_held` that is not an int >= 0.
            InvalidTransition: unless the subscription is ACTIVE.
            LimitExceeded: if the new plan's ``phone_numbers`` is below `numbers_held`.
        """
        at = to_utc(at)
        if not isinstance(quote, PlanChangeQuote):
            raise ValidationError("quote", quote, "expected a PlanChangeQuote")
        _check_ledger(self.account_id, ledger)
        _require_count(numbers_held)
        if quote.quote_id == self.last_quote_id:
            return
        self._check_quote(quote, at)
        _require_room_for_numbers(quote.to_plan, numbers_held)
        if quote.kind is PlanChangeKind.DOWNGRADE:
            self.scheduled_change = ScheduledChange(
                plan=quote.to_plan, effective_at=quote.effective_at, quote_id=quote.quote_id
            )
            self.last_quote_id = quote.quote_id
            self._record(
                PlanChangeScheduled(
                    account_id=self.account_id,
                    occurred_at=at,
                    from_plan_code=quote.from_plan.code,
                    to_plan_code=quote.to_plan.code,
                    effective_at=quote.effective_at,
                    quote_id=quote.quote_id,
                )
            )
            return
        if quote.granted_seconds:
            ledger.grant(
                f"plan:{self._scope}:{self.period_index}:{quote.quote_id}",
                GrantSource.PLAN,
                quote.granted_seconds,
                at,
                expires_at=quote.period.end,
                reference=quote.quote_id,
            )
        _apply_plan_policy(ledger, quote.to_plan, at)
        self.plan = quote.to_plan
        self.scheduled_change = None
        self.last_quote_id = quote.quote_id
        self._record(
            PlanChanged(
                account_id=self.account_id,
                occurred_at=at,
                from_plan_code=quote.from_plan.code,
                to_plan_code=quote.to_plan.code,
                kind=quote.kind.value,
                charge=quote.charge,
                granted_seconds=quote.granted_seconds,
                quote_id=quote.quote_id,
            )
        )

    def cancel_scheduled_change(self, at: datetime) -> bool:
        """Call off a scheduled downgrade; return whether there was one.

        The quote that scheduled it is no longer the last one applied, so applying it again
        (while it is valid) schedules the downgrade again rather than being taken for a
        repeat.
        """
        at = to_utc(at)
        change = self.scheduled_change
        if change is None:
            return False
        self.scheduled_change = None
        if self.last_quote_id == change.quote_id:
            self.last_quote_id = None
        self._record(
            ScheduledPlanChangeCanceled(
                account_id=self.account_id,
                occurred_at=at,
                plan_code=self.plan.code,
                canceled_plan_code=change.plan.code,
            )
        )
        return True

    def _require_changeable(self, at: datetime, action: str) -> None:
        if self.status is not SubscriptionStatus.ACTIVE:
            raise InvalidTransition(self._name, self.status.value, action)
        period = self.current_period
        if at < period.start:
            raise ValidationError("at", at, f"before the current period starts at {period.start}")
        if at >= period.end:
            raise InvalidTransition(self._name, "due for renewal", action)

    def _check_quote(self, quote: PlanChangeQuote, at: datetime) -> None:
        if quote.account_id != self.account_id:
            raise ValidationError("quote", quote.quote_id, f"not for account {self.account_id}")
        if self.status is not SubscriptionStatus.ACTIVE:
            raise InvalidTransition(self._name, self.status.value, "apply a plan change to")
        if at < quote.priced_at:
            raise ValidationError("at", at, f"before the quote was priced at {quote.priced_at}")
        if at >= quote.valid_until:
            raise ValidationError("quote", quote.quote_id, f"expired at {quote.valid_until}")
        if quote.period_index != self.period_index or quote.from_plan != self.plan:
            raise ValidationError(
                "quote", quote.quote_id, "priced for another period or plan; ask for a new one"
            )

    # --- helpers ----------------------------------------------------------------------------

    @property
    def _name(self) -> str:
        return f"subscription {self.account_id}"

    @property
    def _scope(self) -> str:
        """The account in the ids it derives, with the generation from the second one on."""
        if not self.generation:
            return self.account_id
        return f"{self.account_id}#{self.generation}"

    def _grant_plan(
        self,
        ledger: MinuteLedger,
        plan: Plan,
        index: int,
        period: BillingPeriod,
        at: datetime,
    ) -> int:
        if not plan.included_seconds or at >= period.end:
            return 0  # nothing to grant, or a late renewal of a period that is already over
        ledger.grant(
            f"plan:{self._scope}:{index}",
            GrantSource.PLAN,
            plan.included_seconds,
            at,
            effective_at=period.start,
            expires_at=period.end,
        )
        return plan.included_seconds

    def _record(self, event: DomainEvent) -> None:
        self._events.record(event)

    def pull_events(self) -> list[DomainEvent]:
        """The events recorded since the last pull (the unit of work publishes them)."""
        return self._events.pull()

    # --- state ------------------------------------------------------------------------------

    def to_state(self) -> State:
        """The subscription as JSON-compatible data (the plan stored whole)."""
        change = self.scheduled_change
        return {
            "account_id": self.account_id,
            "plan": plan_to_state(self.plan),
            "anchor": instant_to_state(self.cycle.anchor),
            "interval_months": self.cycle.interval.months,
            "timezone": self.cycle.timezone,
            "status": self.status.value,
            "period_index": self.period_index,
            "grace_period_us": self.grace_period // _MICROSECOND,
            "rollover_cap_seconds": self.rollover.cap_seconds,
            "scheduled_change": None
            if change is None
            else {
                "plan": plan_to_state(change.plan),
                "effective_at": instant_to_state(change.effective_at),
                "quote_id": change.quote_id,
            },
            "grace_until": optional_instant_to_state(self.grace_until),
            "ended_at": optional_instant_to_state(self.ended_at),
            "last_quote_id": self.last_quote_id,
            "generation": self.generation,
            "version": self.version,
        }

    @classmethod
    def from_state(cls, state: State) -> Subscription:
        """The subscription that `to_state` encoded (with no pending events)."""
        change = state["scheduled_change"]
        return cls(
            account_id=state["account_id"],
            plan=plan_from_state(state["plan"]),
            cycle=BillingCycle(
                instant_from_state(state["anchor"]),
                BillingInterval(state["interval_months"]),
                state["timezone"],
            ),
            status=SubscriptionStatus(state["status"]),
            period_index=state["period_index"],
            grace_period=timedelta(microseconds=state["grace_period_us"]),
            rollover=RolloverPolicy(state["rollover_cap_seconds"]),
            scheduled_change=None
            if change is None
            else ScheduledChange(
                plan=plan_from_state(change["plan"]),
                effective_at=instant_from_state(change["effective_at"]),
                quote_id=change["quote_id"],
            ),
            grace_until=optional_instant_from_state(state["grace_until"]),
            ended_at=optional_instant_from_state(state["ended_at"]),
            last_quote_id=state["last_quote_id"],
            generation=state.get("generation", 0),
            version=state["version"],
        )


def _require_count(numbers_held: object) -> None:
    if isinstance(numbers_held, bool) or not isinstance(numbers_held, int) or numbers_held < 0:
        raise ValidationError("numbers_held", numbers_held, "an int >= 0")


def _require_room_for_numbers(plan: Plan, numbers_held: int) -> None:
    """Refuse a plan that allows fewer phone numbers than the account holds."""
    limit = plan.features.phone_numbers
    if numbers_held > limit:
        raise LimitExceeded("phone_numbers", limit, numbers_held)


def _check_ledger(account_id: str, ledger: MinuteLedger) -> None:
    if getattr(ledger, "account_id", None) != account_id:
        raise ValidationError(
            "ledger", getattr(ledger, "account_id", ledger), f"not the ledger of {account_id}"
        )


def _check_ledger_period(ledger: MinuteLedger, period: BillingPeriod) -> None:
    """Refuse up front what `MinuteLedger.open_period` would refuse halfway through."""
    current = ledger.period
    if current is not None and period.start < current.start:
        raise ValidationError(
            "ledger", ledger.account_id, f"already counts a later period {current}"
        )


def _apply_plan_policy(ledger: MinuteLedger, plan: Plan, at: datetime) -> None:
    """Give the ledger the plan's rating and overage rule, keeping its thresholds and hold TTL."""
    policy: LedgerPolicy = ledger.policy
    if policy.rating != plan.features.rating or policy.overage != plan.features.overage:
        ledger.set_policy(
            evolve(policy, rating=plan.features.rating, overage=plan.features.overage), at=at
        )
