"""`Fulfilment`: what a captured payment buys, decided exactly once per payment.

When a payment first captures money, `decide_fulfilment` turns its quote into steps — grant
the bundle, credit the wallet, activate or renew the number, start, renew or change the plan —
and, for what can no longer be delivered, a remedy: refund the money or credit the wallet.
The decision is a pure value; `Payment.fulfil` stores it on the payment, so a second success
(a duplicated webhook, a late authorisation, a poll) finds it there and does nothing.

What cannot be fulfilled, and why (`Unfulfillable`):

- the money was captured after the payment's authorisation window (`LATE_CAPTURE`): all of it;
- another payment already fulfilled the same quote (`ALREADY_FULFILLED`): all of it;
- the quote expired before the capture and repricing the order gives another total
  (`QUOTE_REPRICED`): all of it;
- a line's target is gone, such as a number released back to the provider
  (`TARGET_UNAVAILABLE`): that line's share of the total, tax included;
- the gateway captured another amount than the quote's total (`CAPTURE_MISMATCH`): all that
  was captured, always refunded (`capture_mismatch_fulfilment`).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from datetime import datetime

from attrs import field, frozen

from minutebill.domain.checkout import Quote
from minutebill.domain.line_items import BundleLine, LineItem, NumberLine, PlanAction, PlanLine
from minutebill.domain.money import Money, sum_money
from minutebill.domain.periods import to_utc
from minutebill.domain.state import (
    State,
    instant_from_state,
    instant_to_state,
    money_from_state,
    money_to_state,
)
from minutebill.errors import ValidationError

__all__ = [
    "Fulfilment",
    "FulfilmentStep",
    "Remedy",
    "StepKind",
    "Unfulfillable",
    "capture_mismatch_fulfilment",
    "decide_fulfilment",
]


class Remedy(enum.Enum):
    """What to do with money that bought something that cannot be delivered."""

    REFUND = "refund"
    """Send it back through the gateway (the default: the money returns where it came from)."""
    CREDIT_WALLET = "credit_wallet"
    """Credit the account's prepaid wallet (instant; the customer can spend it at once)."""


class Unfulfillable(enum.Enum):
    """Why (part of) a payment cannot be fulfilled."""

    LATE_CAPTURE = "late_capture"
    ALREADY_FULFILLED = "already_fulfilled"
    QUOTE_REPRICED = "quote_repriced"
    TARGET_UNAVAILABLE = "target_unavailable"
    CAPTURE_MISMATCH = "capture_mismatch"


class StepKind(enum.Enum):
    """One thing fulfilment does."""

    GRANT_BUNDLE = "grant_bundle"
    CREDIT_WALLET = "credit_wallet"
    ACTIVATE_NUMBER = "activate_number"
    RENEW_NUMBER = "renew_number"
    START_PLAN = "start_plan"
    RENEW_PLAN = "renew_plan"
    CHANGE_PLAN = "change_plan"


@frozen(kw_only=True)
class FulfilmentStep:
    """One line of the quote to deliver.

    Attributes:
        kind: What to do.
        line_index: The quote line it delivers.
        target: The bundle code, ``"wallet"``, the number or the plan code.
        quantity: How many (bundles); 1 otherwise.
        amount: The line's amount: for `CREDIT_WALLET`, exactly what to credit.
    """

    kind: StepKind
    line_index: int
    target: str
    quantity: int = 1
    amount: Money

    def to_state(self) -> State:
        """This step as a JSON-compatible dict."""
        return {
            "kind": self.kind.value,
            "line_index": self.line_index,
            "target": self.target,
            "quantity": self.quantity,
            "amount": money_to_state(self.amount),
        }

    @classmethod
    def from_state(cls, state: State) -> FulfilmentStep:
        """The step that `to_state` encoded."""
        return cls(
            kind=StepKind(state["kind"]),
            line_index=state["line_index"],
            target=state["target"],
            quantity=state["quantity"],
            amount=money_from_state(state["amount"]),
        )


def _steps(value: Iterable[FulfilmentStep]) -> tuple[FulfilmentStep, ...]:
    return tuple(value)


def _indexes(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(value)


@frozen(kw_only=True)
class Fulfilment:
    """The one decision about what a payment buys. Immutable; stored on the payment.

    Attributes:
        payment_id: The payment decided for.
        quote_id: The quote it paid.
        decided_at: When the decision was made (UTC).
        steps: What to deliver, in quote order.
        remedy: Refund or wallet credit for what cannot be delivered; None if all can.
        remedy_amount: How much to refund or credit (zero without a remedy).
        reason: Why something cannot be delivered; None if everything can.
        unfulfilled_lines: Indexes of the quote lines not delivered.
    """

    payment_id: str
    quote_id: str
    decided_at: datetime = field(converter=to_utc)
    steps: tuple[FulfilmentStep, ...] = field(default=(), converter=_steps)
    remedy: Remedy | None = None
    remedy_amount: Money
    reason: Unfulfillable | None = None
    unfulfilled_lines: tuple[int, ...] = field(default=(), converter=_indexes)

    @property
    def complete(self) -> bool:
        """Whether everything paid for is delivered (no remedy needed)."""
        return self.remedy is None

    @property
    def remedy_key(self) -> str:
        """The idempotency key (and refund reference) for carrying out the remedy."""
        return f"{self.payment_id}:remedy"

    def to_state(self) -> State:
        """This decision as a JSON-compatible dict."""
        return {
            "payment_id": self.payment_id,
            "quote_id": self.quote_id,
            "decided_at": instant_to_state(self.decided_at),
            "steps": [s.to_state() for s in self.steps],
            "remedy": None if self.remedy is None else self.remedy.value,
            "remedy_amount": money_to_state(self.remedy_amount),
            "reason": None if self.reason is None else self.reason.value,
            "unfulfilled_lines": list(self.unfulfilled_lines),
        }

    @classmethod
    def from_state(cls, state: State) -> Fulfilment:
        """The decision that `to_state` encoded."""
        return cls(
            payment_id=state["payment_id"],
            quote_id=state["quote_id"],
            decided_at=instant_from_state(state["decided_at"]),
            steps=tuple(FulfilmentStep.from_state(s) for s in state["steps"]),
            remedy=None if state["remedy"] is None else Remedy(state["remedy"]),
            remedy_amount=money_from_state(state["remedy_amount"]),
            reason=None if state["reason"] is None else Unfulfillable(state["reason"]),
            unfulfilled_lines=tuple(state["unfulfilled_lines"]),
        )


_PLAN_STEPS = {
    PlanAction.SUBSCRIBE: StepKind.START_PLAN,
    PlanAction.RENEW: StepKind.RENEW_PLAN,
    PlanAction.CHANGE: StepKind.CHANGE_PLAN,
}


def _step(index: int, line: LineItem) -> FulfilmentStep:
    if isinstance(line, BundleLine):
        kind, quantity = StepKind.GRANT_BUNDLE, line.quantity
    elif isinstance(line, NumberLine):
        kind = StepKind.RENEW_NUMBER if line.renewal else StepKind.ACTIVATE_NUMBER
        quantity = 1
    elif isinstance(line, PlanLine):
        kind, quantity = _PLAN_STEPS[line.action], 1
    else:
        kind, quantity = StepKind.CREDIT_WALLET, 1
    return FulfilmentStep(
        kind=kind, line_index=index, target=line.target, quantity=quantity, amount=line.amount
    )


def decide_fulfilment(
    quote: Quote,
    *,
    payment_id: str,
    captured: Money,
    captured_at: datetime,
    accepted: bool,
    at: datetime,
    unavailable: Collection[str] = (),
    repriced_total: Money | None = None,
    already_fulfilled_by: str | None = None,
    remedy: Remedy = Remedy.REFUND,
) -> Fulfilment:
    """Decide what a payment of `quote` that captured `captured` at `captured_at` delivers.

    Args:
        quote: The quote the payment paid.
        payment_id: The payment.
        captured: What the payment captured; must equal the quote's total.
        captured_at: When it captured (the gateway's instant).
        accepted: False for a capture after the payment's authorisation window.
        at: Now: when the decision is made.
        unavailable: Targets that can no longer be delivered (a released number, say).
        repriced_total: The order's total priced again now; needed only when the quote had
            expired before the capture.
        already_fulfilled_by: The payment that already fulfilled this quote, if any.
        remedy: Refund (default) or wallet credit for what cannot be delivered.

    Raises:
        ValidationError: if `captured` is not the quote's total, or the quote expired before
            the capture and no `repriced_total` was given.
    """
    if captured != quote.total:
        raise ValidationError("captured", captured, f"the quote's total is {quote.total}")
    if not isinstance(remedy, Remedy):
        raise ValidationError("remedy", remedy, "expected a Remedy")
    if isinstance(unavailable, str):
        raise ValidationError("unavailable", unavailable, "a collection of targets, not a string")
    decided_at = to_utc(at)
    everything = tuple(range(len(quote.lines)))

    def whole(reason: Unfulfillable) -> Fulfilment:
        return Fulfilment(
            payment_id=payment_id,
            quote_id=quote.quote_id,
            decided_at=decided_at,
            remedy=remedy,
            remedy_amount=captured,
            reason=reason,
            unfulfilled_lines=everything,
        )

    if not accepted:
        return whole(Unfulfillable.LATE_CAPTURE)
    if already_fulfilled_by is not None and already_fulfilled_by != payment_id:
        return whole(Unfulfillable.ALREADY_FULFILLED)
    if not quote.is_valid_at(captured_at):
        if repriced_total is None:
            raise ValidationError(
                "repriced_total", None, "the quote expired before the capture; reprice the order"
            )
        if repriced_total != quote.total:
            return whole(Unfulfillable.QUOTE_REPRICED)
    gone = {i for i, line in enumerate(quote.lines) if line.target in set(unavailable)}
    shares = quote.line_totals()
    steps = tuple(_step(i, line) for i, line in enumerate(quote.lines) if i not in gone)
    owed = sum_money((shares[i] for i in sorted(gone)), quote.currency)
    return Fulfilment(
        payment_id=payment_id,
        quote_id=quote.quote_id,
        decided_at=decided_at,
        steps=steps,
        remedy=remedy if gone else None,
        remedy_amount=owed,
        reason=Unfulfillable.TARGET_UNAVAILABLE if gone else None,
        unfulfilled_lines=tuple(sorted(gone)),
    )


def capture_mismatch_fulfilment(
    quote: Quote, *, payment_id: str, captured: Money, at: datetime
) -> Fulfilment:
    """The decision for a payment of `quote` whose gateway captured `captured`, not its total.

    Nothing is delivered: what the quote priced was not what was paid. All that was captured
    goes back through the gateway, whatever the service's remedy: a wallet credit would turn
    an amount the customer never agreed to into stored value.

    Raises:
        ValidationError: if `captured` is the quote's total (that is no mismatch).
    """
    if captured == quote.total:
        raise ValidationError("captured", captured, "differs from the quote's total")
    return Fulfilment(
        payment_id=payment_id,
        quote_id=quote.quote_id,
        decided_at=to_utc(at),
        remedy=Remedy.REFUND,
        remedy_amount=captured,
        reason=Unfulfillable.CAPTURE_MISMATCH,
        unfulfilled_lines=tuple(range(len(quote.lines))),
    )
