"""Phone-number subscriptions: Active, On Hold, Released, and nothing else.

A number costs a one-time up-front fee (paid with its order) and a recurring fee per period.
Periods come from the **anchor**, the instant the order was paid, through a `BillingCycle`, so a
number bought on Jan 31 renews on Feb 28, Mar 31, Apr 30: never drifting, whatever happens in
between. The subscription moves exactly along DESIGN.md's table
(`minutebill.domain.number_status.TRANSITIONS`):

| from | event | to |
|---|---|---|
| — | order paid (`NumberSubscription.activate`) | ACTIVE |
| ACTIVE | renewal paid (`record_renewal_paid`) | ACTIVE |
| ACTIVE | renewal due, not paid (`put_on_hold`) | ON_HOLD |
| ON_HOLD | payment succeeds (`record_renewal_paid`) | ACTIVE |
| ON_HOLD | grace period elapsed (`release`, grace elapsed) | RELEASED |
| ACTIVE / ON_HOLD | Release (`release`) | RELEASED |
| RELEASED | anything | `InvalidTransition`; a late payment is refunded or credited |

What to do when a renewal falls due is decided by `minutebill.domain.number_renewal.renew`, a
pure function; the service carries its decision out and reports the outcome back through the
methods here. Every method validates first: a refused call raises and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from types import MappingProxyType
from typing import Any

from attrs import define, field

from minutebill.domain.catalog import NumberOffer, Plan, PlanFeatures
from minutebill.domain.events import DomainEvent, EventBuffer
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
from minutebill.domain.number_parsed import ParsedValues
from minutebill.domain.number_policy import HeldFee, NumberPolicy
from minutebill.domain.number_status import (
    Hold,
    HoldReason,
    NumberStatus,
    PaymentDisposition,
    PreDebitNotice,
    ReleaseReason,
    offer_from_state,
    offer_to_state,
    validate_e164,
)
from minutebill.domain.periods import BillingCycle, BillingPeriod, to_utc
from minutebill.domain.state import State, instant_from_state, instant_to_state
from minutebill.domain.text import require_key
from minutebill.domain.usage import trusted_constructor
from minutebill.errors import InvalidTransition, LimitExceeded, ValidationError

__all__ = ["NumberSubscription", "ParsedValues", "check_number_limit", "count_held_numbers"]


def _copy_offer_state(state: State) -> State:
    """A fresh copy of an `offer_to_state` dict (callers may change what they are given)."""
    return {
        **state,
        "capabilities": list(state["capabilities"]),
        "monthly_fee": dict(state["monthly_fee"]),
        "upfront_fee": dict(state["upfront_fee"]),
    }


def _copy_policy_state(state: State) -> State:
    """A fresh copy of a `NumberPolicy.to_state` dict."""
    limit = state["mandate_limit"]
    return {**state, "mandate_limit": None if limit is None else dict(limit)}


def _canonical_instant(text: object) -> bool:
    """Whether `text` has exactly the form `instant_to_state` gives a whole-second instant.

    Such a text, once parsed, encodes back to itself, so it can be kept instead of encoded.
    """
    return (
        type(text) is str
        and len(text) == 25  # "2026-03-02T09:00:00+00:00"
        and text[10] == "T"
        and text[4] == text[7] == "-"
        and text[13] == text[16] == ":"
        and text.endswith("+00:00")
    )


_STATUSES = MappingProxyType({status.value: status for status in NumberStatus})
_NEW_PAID_EVENT = MappingProxyType(
    {
        event_type: trusted_constructor(
            event_type,
            "account_id",
            "occurred_at",
            "number",
            "period_index",
            "paid_through",
            "amount",
            "paid",
        )
        for event_type in (NumberRenewed, NumberReactivated)
    }
)
# Enum.value is a Python-level property before Python 3.12: a lookup costs a tenth of it.
_STATUS_TEXTS = MappingProxyType({status: status.value for status in NumberStatus})


@define
class NumberSubscription:
    """One phone number held by one account: its offer, status, Auto-Pay and paid time.

    Create one with `activate` when its order is paid, or load one with `from_state`.
    Periods are numbered from 0 at the anchor; period 0 is paid by the order, and periods
    ``0 .. paid_periods - 1`` are settled (paid, or frozen on hold under `HeldFee.FREEZE`).

    Attributes:
        number_e164: The number, E.164.
        account_id: The account holding it.
        offer: What was bought: fees, interval, capabilities.
        policy: The renewal, hold and release rules agreed when it was bought.
        anchor: The instant every period boundary is computed from (never moves).
        timezone: The account's IANA time zone, for period boundaries.
        status: Active, On Hold or Released.
        auto_pay: Whether renewals are charged automatically.
        paid_periods: How many periods from the anchor are settled.
        hold: Why and until when it is on hold (set exactly when ON_HOLD).
        notice: The pre-debit notice given for the next period, if any.
        mandate_id: The gateway's id of the saved payment method (UPI AutoPay or card
            e-mandate) that renewals may charge off-session; None: wallet only.
        version: The store's version of this aggregate.
    """

    number_e164: str
    account_id: str
    offer: NumberOffer
    policy: NumberPolicy
    anchor: datetime
    timezone: str
    status: NumberStatus
    auto_pay: bool
    paid_periods: int
    hold: Hold | None = None
    notice: PreDebitNotice | None = None
    mandate_id: str | None = None
    version: int = 0
    _cycle: BillingCycle = field(init=False)
    _events: EventBuffer = field(init=False, factory=EventBuffer)
    # Values derived from fields, each remembered with what it was derived from (so a changed
    # field is never answered from the memo): fee, anchor text, renewal key prefix, offer and
    # policy states, paid-through text. Loading a number and saving it again after a renewal
    # would otherwise format and encode the same few values many times.
    _memo: dict[str, tuple[Any, Any]] = field(init=False, factory=dict, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        validate_e164(self.number_e164)
        require_key("account_id", self.account_id)
        if not isinstance(self.offer, NumberOffer):
            raise ValidationError("offer", self.offer, "a NumberOffer")
        if self.offer.monthly_fee.amount <= 0:
            raise ValidationError("offer", self.offer.code, "a subscription needs a fee > 0")
        if not isinstance(self.policy, NumberPolicy):
            raise ValidationError("policy", self.policy, "a NumberPolicy")
        if not isinstance(self.auto_pay, bool):
            raise ValidationError("auto_pay", self.auto_pay, "a bool")
        for name, minimum in (("paid_periods", 1), ("version", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValidationError(name, value, f"an int >= {minimum}")
        if self.mandate_id is not None:
            require_key("mandate_id", self.mandate_id)
        if (self.hold is None) != (self.status is not NumberStatus.ON_HOLD):
            raise ValidationError("hold", self.hold, f"a hold exactly when on hold ({self.status})")
        if self.notice is not None and self.notice.period_index != self.paid_periods:
            raise ValidationError("notice", self.notice, "a notice is for the next period")
        if self.hold is not None and (
            self.hold.release_after != self.hold.since + self.policy.grace_period
        ):
            raise ValidationError("hold", self.hold, "release_after is since + grace period")
        self._cycle = BillingCycle(self.anchor, self.offer.interval, self.timezone)
        self.anchor = self._cycle.anchor

    # --- creation ---------------------------------------------------------------------------

    @classmethod
    def activate(
        cls,
        number: str,
        account_id: str,
        offer: NumberOffer,
        at: datetime,
        *,
        auto_pay: bool = True,
        policy: NumberPolicy | None = None,
        timezone: str = "UTC",
    ) -> NumberSubscription:
        """A number whose order was paid at `at`: Active, paid through its first period.

        Call it only once the order's payment succeeded (the order charged the up-front fee
        and the first period). `at` becomes the anchor.

        Raises:
            ValidationError: for a number that is not E.164, a naive time, an unknown time
                zone, or an offer without a recurring fee.
        """
        subscription = cls(
            number,
            account_id,
            offer,
            NumberPolicy() if policy is None else policy,
            to_utc(at),
            timezone,
            NumberStatus.ACTIVE,
            auto_pay,
            1,
        )
        subscription._events.record(
            NumberActivated(
                **subscription._about(subscription.anchor),
                offer_code=offer.code,
                anchor=subscription.anchor,
                paid_through=subscription.paid_through,
                upfront_fee=offer.upfront_fee,
                recurring_fee=subscription.recurring_fee,
            )
        )
        return subscription

    # --- reading ----------------------------------------------------------------------------

    @property
    def cycle(self) -> BillingCycle:
        """The billing cycle of the number: its anchor, interval and time zone."""
        return self._cycle

    @property
    def paid_through(self) -> datetime:
        """The end of the settled time: the start of the next unpaid period."""
        return self._cycle.boundary(self.paid_periods)

    @property
    def recurring_fee(self) -> Money:
        """The fee of one period: the offer's monthly fee times the months in its interval."""
        offer = self.offer
        cached = self._memo.get("fee")
        if cached is None or cached[0] is not offer:
            cached = (offer, offer.period_fee)
            self._memo["fee"] = cached
        fee: Money = cached[1]
        return fee

    def period(self, index: int) -> BillingPeriod:
        """Period `index` of the number (0 starts at the anchor)."""
        return self._cycle.period(index)

    def renewal_key(self, period_index: int) -> str:
        """The idempotency key of paying `period_index`, for the wallet and the gateway.

        ``number:<e164>:<anchor>:<index>``; the anchor keeps a later re-purchase of the same
        number from reusing the keys of an earlier subscription.
        """
        anchor = self.anchor
        cached = self._memo.get("key")
        if cached is None or cached[0] is not anchor:
            text = self._anchor_text()
            # "2026-03-02T09:00:00+00:00" -> "20260302T090000Z" (strftime pads no year < 1000);
            # the text of a whole-second instant has that form.
            if anchor.microsecond == 0 and anchor.year >= 1000:
                stamp = text[:19].replace("-", "").replace(":", "") + "Z"
            else:
                stamp = f"{anchor:%Y%m%dT%H%M%SZ}"
            cached = (anchor, f"number:{self.number_e164}:{stamp}:")
            self._memo["key"] = cached
        return f"{cached[1]}{period_index}"

    def chargeable_period(self, at: datetime) -> int:
        """The period a payment made at `at` would pay.

        The next unpaid period, except on hold under `HeldFee.FREEZE`, where periods that
        passed entirely on hold are skipped and the payment is for the current period.

        Raises:
            InvalidTransition: on a released number.
        """
        at = self._check_time(at)
        self._refuse_if_released("charge")
        if self.status is NumberStatus.ACTIVE or self.policy.held_fee is HeldFee.ACCRUE:
            return self.paid_periods
        return max(self.paid_periods, self._cycle.index_at(at))

    def payment_disposition(self, period_index: int, at: datetime) -> PaymentDisposition:
        """What a successful payment for `period_index`, landing at `at`, should do.

        Released numbers are never reactivated: every payment for them is
        `PaymentDisposition.REFUND_OR_CREDIT`.

        Raises:
            ValidationError: for a period after the one that is due.
        """
        return self._disposition(period_index, self._check_time(at))

    def _disposition(self, period_index: int, at: datetime) -> PaymentDisposition:
        """`payment_disposition` for an `at` already checked (UTC, not before the anchor)."""
        _require_index(period_index)
        if self.status is NumberStatus.RELEASED:
            return PaymentDisposition.REFUND_OR_CREDIT
        if period_index < self.paid_periods:
            return PaymentDisposition.DUPLICATE
        if self.status is NumberStatus.ACTIVE or self.policy.held_fee is HeldFee.ACCRUE:
            due = self.paid_periods
        else:
            due = max(self.paid_periods, self._cycle.index_at(at))
        if period_index == due:
            return PaymentDisposition.APPLY
        if period_index < due:
            return PaymentDisposition.REFUND_OR_CREDIT
        raise ValidationError("period_index", period_index, f"period {due} is the one to pay")

    def pull_events(self) -> list[DomainEvent]:
        """The events recorded since the last pull."""
        return self._events.pull()

    # --- changing ---------------------------------------------------------------------------

    def record_renewal_paid(
        self, period_index: int, at: datetime, *, paid: Money | None = None
    ) -> PaymentDisposition:
        """Record that the payment for `period_index` succeeded at `at`.

        `paid` is what the customer paid for the period, tax included (default: the fee,
        as under no tax or tax-inclusive prices); the event carries it beside the fee.

        Paying the due period moves `paid_through` one interval on; a held number that is then
        paid up is reactivated on its original anchor. Paying a period that needs no payment
        changes nothing (idempotent per period) and says so.

        Returns:
            The `payment_disposition`: only `APPLY` changed anything.

        Raises:
            InvalidTransition: on a released number (use `payment_disposition` to route a
                late payment to a refund or a wallet credit).
            ValidationError: for a period after the one that is due, or a `paid` that is not
                an amount of the fee's currency, zero or more.
        """
        at = self._check_time(at)
        if paid is not None and (
            not isinstance(paid, Money)
            or paid.currency != self.recurring_fee.currency
            or paid.amount < 0
        ):
            raise ValidationError("paid", paid, f"an amount in {self.recurring_fee.currency}, >= 0")
        self._refuse_if_released("record a payment for")
        disposition = self._disposition(period_index, at)
        if disposition is not PaymentDisposition.APPLY:
            return disposition
        self.paid_periods = period_index + 1
        if self.notice is not None and self.notice.period_index <= period_index:
            self.notice = None
        event_type: type[NumberRenewed | NumberReactivated] = NumberRenewed
        if self.status is NumberStatus.ON_HOLD and self.paid_through > at:
            self.status, self.hold = NumberStatus.ACTIVE, None
            event_type = NumberReactivated
        # Built by a trusted constructor: one event per renewal.
        new_event = _NEW_PAID_EVENT[event_type]
        fee = self.recurring_fee
        event = new_event(
            self.account_id, at, self.number_e164, period_index, self.paid_through, fee, paid or fee
        )
        self._events.record(event)
        return disposition

    def record_pre_debit_notice(
        self, period_index: int, at: datetime, *, amount: Money | None = None
    ) -> PreDebitNotice:
        """Record that the customer is told now about the mandate debit for `period_index`.

        The debit may then happen no earlier than the policy's lead after `at`, and not before
        the period starts. Records `PreDebitNoticeDue`, which the host turns into the message.
        A second call for the same period and amount returns the first notice; one for
        another amount replaces it (the customer is told again, and the lead starts again).

        Args:
            period_index: The period the debit pays: the next unpaid one.
            at: Now.
            amount: What the debit will take (the fee with its tax); default: the fee.

        Raises:
            InvalidTransition: unless the number is Active.
            ValidationError: for a period other than the next unpaid one, or an amount that
                is not positive Money in whole minor units of the fee's currency.
        """
        at = self._check_time(at)
        fee = self.recurring_fee
        if amount is None:
            amount = fee
        elif (
            not isinstance(amount, Money)
            or amount.currency != fee.currency
            or amount.amount <= 0
            or not amount.is_rounded()
        ):
            raise ValidationError("amount", amount, f"positive {fee.currency} in minor units")
        if self.status is not NumberStatus.ACTIVE:
            raise InvalidTransition(self._entity, self.status.value, "schedule a debit for")
        if period_index != self.paid_periods:
            raise ValidationError("period_index", period_index, "only the next period's debit")
        if self.notice is not None and self.notice.amount == amount:
            return self.notice
        starts = self._cycle.boundary(period_index)
        notice = PreDebitNotice(
            period_index=period_index,
            amount=amount,
            sent_at=at,
            debit_at=max(starts, at + self.policy.pre_debit_notice_lead),
        )
        self.notice = notice
        self._events.record(
            PreDebitNoticeDue(
                **self._about(at),
                period_index=period_index,
                amount=notice.amount,
                debit_at=notice.debit_at,
            )
        )
        return notice

    def put_on_hold(self, reason: HoldReason, at: datetime) -> Hold:
        """Put the number on hold because its due renewal was not paid.

        From ACTIVE (only once the renewal is due) the hold starts when the renewal fell due
        (`paid_through`), whenever `at` is, and ends after the grace period: like a plan's
        grace, the release date does not depend on how late the due work ran. On a number
        already on hold only the reason changes: the grace period is not restarted.

        Raises:
            InvalidTransition: on a released number, or an Active one that is paid up.
            ValidationError: for a reason that is not a `HoldReason`.
        """
        at = self._check_time(at)
        if not isinstance(reason, HoldReason):
            raise ValidationError("reason", reason, "a HoldReason")
        self._refuse_if_released("put on hold")
        if self.hold is not None:
            if self.hold.reason is reason:
                return self.hold
            hold = Hold(reason=reason, since=self.hold.since, release_after=self.hold.release_after)
        elif at < self.paid_through:
            state = f"active and paid through {self.paid_through.isoformat()}"
            raise InvalidTransition(self._entity, state, "put on hold")
        else:  # on hold since the renewal fell due, however late the due work runs
            since = self.paid_through
            hold = Hold(reason=reason, since=since, release_after=since + self.policy.grace_period)
        self.status, self.hold = NumberStatus.ON_HOLD, hold
        self._events.record(
            NumberPutOnHold(
                **self._about(at),
                reason=reason.value,
                since=hold.since,
                release_after=hold.release_after,
            )
        )
        return hold

    @property
    def has_mandate(self) -> bool:
        """Whether renewals may charge a saved payment method off-session."""
        return self.mandate_id is not None

    def attach_mandate(self, mandate_id: str | None) -> None:
        """Save (or, with None, forget) the mandate renewals may charge.

        A pre-debit notice announces a debit of the mandate it was given for: another mandate
        drops it, so the next off-session debit is announced again, a full lead ahead.

        Raises:
            ValidationError: for an empty id.
            InvalidTransition: on a released number.
        """
        if mandate_id is not None:
            require_key("mandate_id", mandate_id)
        self._refuse_if_released("attach a mandate to")
        if mandate_id != self.mandate_id:
            self.notice = None
        self.mandate_id = mandate_id

    def set_auto_pay(self, on: bool, at: datetime) -> bool:
        """Turn Auto-Pay on or off.

        Returns:
            True when Auto-Pay was just turned on for a number on hold. `Billing.set_auto_pay`
            tries the charge at once (`renew(..., customer_present=True)`) whenever it is set
            on for a held number, also when it was on already.

        Raises:
            InvalidTransition: on a released number.
        """
        at = self._check_time(at)
        if not isinstance(on, bool):
            raise ValidationError("on", on, "a bool")
        self._refuse_if_released("set Auto-Pay on")
        if on is self.auto_pay:
            return False
        self.auto_pay = on
        self._events.record(NumberAutoPayChanged(**self._about(at), auto_pay=on))
        return on and self.status is NumberStatus.ON_HOLD

    def release(
        self,
        at: datetime,
        *,
        reason: ReleaseReason = ReleaseReason.REQUESTED,
        refund_per_period: Money | None = None,
    ) -> NumberReleased:
        """Release the number: no further charges; it goes back to the provider.

        Periods are half-open, so a paid period that starts at or after `at` was never used:
        the returned event names it and what it cost (`refund_due`), so a renewal charged at
        the very instant of a release is given back.

        Args:
            at: When.
            reason: Asked for, or the hold's grace period elapsed.
            refund_per_period: What each unused period is given back: what it was charged
                (the fee with its tax, as `renew`'s `debit_amount`); default: the fee.

        Raises:
            InvalidTransition: on a released number, or for `GRACE_ELAPSED` before the hold's
                `release_after`.
            ValidationError: for a bad reason, or a refund per period that is not Money of
                the fee's currency, in minor units, at least zero.
        """
        at = self._check_time(at)
        if not isinstance(reason, ReleaseReason):
            raise ValidationError("reason", reason, "a ReleaseReason")
        fee = self.recurring_fee
        refund = fee if refund_per_period is None else refund_per_period
        if (
            not isinstance(refund, Money)
            or refund.currency != fee.currency
            or refund.amount < 0
            or not refund.is_rounded()
        ):
            raise ValidationError(
                "refund_per_period", refund, f"{fee.currency} in minor units, at least zero"
            )
        self._refuse_if_released("release")
        if reason is ReleaseReason.GRACE_ELAPSED and (
            self.hold is None or at < self.hold.release_after
        ):
            raise InvalidTransition(self._entity, self._hold_text(), "release after grace")
        first = self._cycle.index_at(at)
        if self._cycle.boundary(first) < at:
            first += 1
        unused = tuple(range(first, self.paid_periods))
        self.status, self.hold, self.notice = NumberStatus.RELEASED, None, None
        released = NumberReleased(
            **self._about(at),
            reason=reason.value,
            unused_periods=unused,
            refund_due=refund * len(unused),
        )
        self._events.record(released)
        return released

    # --- internals --------------------------------------------------------------------------

    @property
    def _entity(self) -> str:
        return f"number {self.number_e164}"

    def _hold_text(self) -> str:
        if self.hold is None:
            return self.status.value
        return f"on hold until {self.hold.release_after.isoformat()}"

    def _check_time(self, at: datetime) -> datetime:
        at = to_utc(at)
        if at < self.anchor:
            raise ValidationError("at", at, f"before the number's anchor {self.anchor}")
        return at

    def _refuse_if_released(self, action: str) -> None:
        if self.status is NumberStatus.RELEASED:
            raise InvalidTransition(self._entity, self.status.value, action)

    def _about(self, at: datetime) -> dict[str, Any]:
        """The fields every number event shares."""
        return {"account_id": self.account_id, "occurred_at": at, "number": self.number_e164}

    # --- state ------------------------------------------------------------------------------

    def _anchor_text(self) -> str:
        """``instant_to_state(anchor)``, remembered."""
        anchor = self.anchor
        cached = self._memo.get("anchor")
        if cached is None or cached[0] is not anchor:
            cached = (anchor, instant_to_state(anchor))
            self._memo["anchor"] = cached
        text: str = cached[1]
        return text

    def _paid_through_text(self) -> str:
        """``instant_to_state(paid_through)``, remembered per number of paid periods."""
        paid = self.paid_periods
        cached = self._memo.get("through")
        if cached is None or cached[0] != paid:
            cached = (paid, instant_to_state(self.paid_through))
            self._memo["through"] = cached
        text: str = cached[1]
        return text

    def _offer_state(self, *, shared: bool) -> State:
        offer = self.offer
        cached = self._memo.get("offer")
        if cached is None or cached[0] is not offer:
            cached = (offer, offer_to_state(offer))
            self._memo["offer"] = cached
        state: State = cached[1]
        return state if shared else _copy_offer_state(state)

    def _policy_state(self, *, shared: bool) -> State:
        policy = self.policy
        cached = self._memo.get("policy")
        if cached is None or cached[0] is not policy:
            cached = (policy, policy.to_state())
            self._memo["policy"] = cached
        state: State = cached[1]
        return state if shared else _copy_policy_state(state)

    def to_state(self, *, shared: bool = False) -> State:
        """The subscription as a JSON-compatible dict.

        ``paid_through`` and ``release_after`` are included (derived) so a store can index
        the due work; `from_state` checks them.

        Args:
            shared: Give the offer's and the policy's dicts as the subscription remembers
                them (shared with other subscriptions), not copies: for a caller that only
                encodes the result, at once, and changes none of it (a store saving the
                number). The top-level dict is always new.
        """
        hold = self.hold
        return {
            "number_e164": self.number_e164,
            "account_id": self.account_id,
            "offer": self._offer_state(shared=shared),
            "policy": self._policy_state(shared=shared),
            "anchor": self._anchor_text(),
            "timezone": self.timezone,
            "status": _STATUS_TEXTS[self.status],
            "auto_pay": self.auto_pay,
            "paid_periods": self.paid_periods,
            "paid_through": self._paid_through_text(),
            "hold": None if hold is None else hold.to_state(),
            "release_after": None if hold is None else instant_to_state(hold.release_after),
            "notice": None if self.notice is None else self.notice.to_state(),
            "mandate_id": self.mandate_id,
            "version": self.version,
        }

    @classmethod
    def from_state(cls, state: State, *, parsed: ParsedValues | None = None) -> NumberSubscription:
        """The subscription that `to_state` encoded.

        Args:
            state: The document.
            parsed: Offers and policies parsed before, to reuse (a store passes its own).

        Raises:
            ValidationError: if the document is inconsistent.
        """
        if parsed is None:
            offer, offer_state, fee = offer_from_state(state["offer"]), None, None
            policy, policy_state = NumberPolicy.from_state(state["policy"]), None
        else:
            offer, offer_state, fee = parsed.offer_parts(state["offer"])
            policy, policy_state = parsed.policy_parts(state["policy"])
        status = _STATUSES.get(state["status"]) if type(state["status"]) is str else None
        anchor_text = state["anchor"]
        subscription = cls(
            state["number_e164"],
            state["account_id"],
            offer,
            policy,
            instant_from_state(anchor_text),
            state["timezone"],
            NumberStatus(state["status"]) if status is None else status,
            state["auto_pay"],
            state["paid_periods"],
            None if state["hold"] is None else Hold.from_state(state["hold"]),
            None if state["notice"] is None else PreDebitNotice.from_state(state["notice"]),
            state.get("mandate_id"),
            state["version"],
        )
        memo = subscription._memo  # seeded with what this document already holds
        through = state["paid_through"]
        if instant_to_state(subscription.paid_through) != through:
            raise ValidationError("paid_through", through, "not the anchor's")
        memo["through"] = (subscription.paid_periods, through)
        if state["release_after"] != (
            None if subscription.hold is None else state["hold"]["release_after"]
        ):
            raise ValidationError("release_after", state["release_after"], "not the hold's")
        if _canonical_instant(anchor_text):
            memo["anchor"] = (subscription.anchor, anchor_text)
        if offer_state is not None:
            memo["offer"] = (offer, offer_state)
            memo["fee"] = (offer, fee)
        if policy_state is not None:
            memo["policy"] = (policy, policy_state)
        return subscription


def _require_index(period_index: int) -> None:
    if isinstance(period_index, bool) or not isinstance(period_index, int) or period_index < 0:
        raise ValidationError("period_index", period_index, "an int >= 0")


def check_number_limit(
    numbers: Iterable[NumberSubscription], plan: Plan | PlanFeatures | int, *, adding: int = 1
) -> None:
    """Refuse to hold more than the plan's `phone_numbers` non-released numbers.

    Args:
        numbers: The account's number subscriptions (released ones are not counted).
        plan: The account's plan, its features, or the limit itself: pass
            `Subscription.phone_numbers_limit` when selling a number, so that a scheduled
            downgrade's smaller limit counts too.
        adding: How many numbers the operation would add.

    Raises:
        LimitExceeded: naming ``"phone_numbers"``, the limit and the count it would make.
        ValidationError: for an `adding` or a limit that is not an int >= 0.
    """
    if isinstance(adding, bool) or not isinstance(adding, int) or adding < 0:
        raise ValidationError("adding", adding, "an int >= 0")
    if isinstance(plan, Plan):
        limit = plan.features.phone_numbers
    elif isinstance(plan, PlanFeatures):
        limit = plan.phone_numbers
    elif isinstance(plan, bool) or not isinstance(plan, int) or plan < 0:
        raise ValidationError("plan", plan, "a Plan, its PlanFeatures or a limit >= 0")
    else:
        limit = plan
    held = count_held_numbers(numbers)
    if held + adding > limit:
        raise LimitExceeded("phone_numbers", limit, held + adding)


def count_held_numbers(numbers: Iterable[NumberSubscription]) -> int:
    """How many of `numbers` count towards the plan's limit: those not released."""
    return sum(1 for number in numbers if number.status is not NumberStatus.RELEASED)
