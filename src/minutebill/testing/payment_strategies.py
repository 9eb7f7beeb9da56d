"""Hypothesis strategies for checkout and payments: orders, tax policies, gateway events.

Each is a noun function returning a ``SearchStrategy``; its docstring says what it shrinks
towards. `gateway_histories` and `deliveries` together model what payment gateways really do:
a plausible set of events for one payment, then delivered in any order with any duplicates.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from hypothesis import strategies as st

from minutebill.domain.catalog import AddOnBundle, Capability, NumberOffer
from minutebill.domain.checkout import Order
from minutebill.domain.decimals import EXACT
from minutebill.domain.line_items import BundleLine, LineItem, NumberLine, PlanLine, TopUpLine
from minutebill.domain.money import Money
from minutebill.domain.payment_events import PaymentEvent, PaymentEventKind
from minutebill.domain.payment_methods import Card, CardFunding, PaymentMethod, Upi
from minutebill.domain.tax import TaxPolicy

__all__ = [
    "cards",
    "deliveries",
    "gateway_event_sets",
    "gateway_histories",
    "line_items",
    "orders",
    "payment_methods",
    "prices",
    "tax_policies",
    "tax_rates",
    "upi_addresses",
]

T = TypeVar("T")

_HANDLES = ("okaxis", "okhdfcbank", "oksbi", "ybl", "paytm", "upi", "ibl", "axl")


def upi_addresses() -> st.SearchStrategy[Upi]:
    """Valid UPI addresses; shrinks towards ``aa@okaxis``."""
    name = st.text("abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=20)
    first = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789")
    return st.builds(lambda f, n, h: Upi(f"{f}{n}@{h}"), first, name, st.sampled_from(_HANDLES))


def cards() -> st.SearchStrategy[Card]:
    """Cards as gateways describe them (brand, last 4, funding); shrinks towards visa 0000."""
    return st.builds(
        Card,
        st.sampled_from(["visa", "mastercard", "rupay", "amex"]),
        st.integers(0, 9999).map(lambda n: f"{n:04d}"),
        st.sampled_from(CardFunding),
    )


def payment_methods() -> st.SearchStrategy[PaymentMethod]:
    """UPI or card; shrinks towards UPI."""
    return st.one_of(upi_addresses(), cards())


def prices(currency: str = "INR", *, max_units: int = 10_000_000) -> st.SearchStrategy[Money]:
    """Non-negative prices in whole minor units; shrinks towards zero."""
    return st.integers(0, max_units).map(lambda u: Money.from_minor_units(u, currency))


def tax_rates() -> st.SearchStrategy[Decimal]:
    """Rates in [0, 0.5) with up to 4 decimal places (GST's 0.18 among them); shrinks to 0."""
    common = st.sampled_from([Decimal("0.18"), Decimal("0.05"), Decimal("0.12"), Decimal("0.28")])
    return common | st.integers(0, 4999).map(lambda n: Decimal(n).scaleb(-4, EXACT))


def tax_policies(rates: st.SearchStrategy[Decimal] | None = None) -> st.SearchStrategy[TaxPolicy]:
    """None, exclusive, inclusive, and GST within or across states; shrinks towards none."""
    rate = tax_rates() if rates is None else rates
    states = st.sampled_from(["KA", "MH", "29", "DL"])
    return st.one_of(
        st.just(TaxPolicy.none()),
        rate.map(TaxPolicy.exclusive),
        rate.map(TaxPolicy.inclusive),
        st.builds(
            lambda r, a, b, inc: TaxPolicy.india_gst(
                r, supplier_state=a, customer_state=b, inclusive=inc
            ),
            rate,
            states,
            states,
            st.booleans(),
        ),
    )


def line_items(currency: str = "INR") -> st.SearchStrategy[LineItem]:
    """Any kind of line, priced in `currency`; shrinks towards a free plan line."""
    price = prices(currency)
    positive = st.integers(1, 10_000_000).map(lambda u: Money.from_minor_units(u, currency))
    bundle = st.builds(
        lambda code, minutes, p: AddOnBundle(code, code.title(), minutes, p),
        st.sampled_from(["nexus", "pro", "elite"]),
        st.integers(1, 1000),
        price,
    )
    offer = st.builds(
        lambda caps, monthly, upfront: NumberOffer(
            "in-local", "IN", "local", caps, monthly, upfront
        ),
        st.frozensets(st.sampled_from(Capability), min_size=1),
        price,
        price,
    )
    numbers = st.integers(10**9, 10**10 - 1).map(lambda n: f"+91{n}")
    return st.one_of(
        st.builds(lambda a: PlanLine(plan_code="pro", description="Pro plan", amount=a), price),
        st.builds(lambda b, q: BundleLine(bundle=b, quantity=q), bundle, st.integers(1, 3)),
        st.builds(lambda a, t: TopUpLine(amount=a, taxable=t), positive, st.booleans()),
        st.builds(
            lambda o, n, r: NumberLine(offer=o, number_e164=n, renewal=r),
            offer,
            numbers,
            st.booleans(),
        ),
    )


def orders(currency: str = "INR", *, max_lines: int = 5) -> st.SearchStrategy[Order]:
    """Orders of 1 to `max_lines` lines (numbers all distinct); shrinks towards one line."""

    def build(lines: list[LineItem]) -> Order:
        seen: set[str] = set()
        kept = []
        for line in lines:
            if isinstance(line, NumberLine):
                if line.number_e164 in seen:
                    continue
                seen.add(line.number_e164)
            kept.append(line)
        return Order(kept, currency)

    return st.lists(line_items(currency), min_size=1, max_size=max_lines).map(build)


@st.composite
def gateway_histories(
    draw: st.DrawFn,
    *,
    reference: str,
    gateway_payment_id: str,
    amount: Money,
    created_at: datetime,
    window: timedelta,
) -> list[PaymentEvent]:
    """A plausible set of gateway events for one payment, each once, in gateway time order.

    Progress (pending, action required, authorised), then an outcome: none yet, success,
    failure, cancellation, or failure then late authorisation and perhaps a late success or a
    second failure (inside or beyond the window); then, after a success, partial or full
    refunds, some failing first. Shrinks towards a lone success.
    """
    clock = [created_at]
    serial = [0]

    def event(
        kind: PaymentEventKind,
        amount: Money | None = None,
        refund_id: str | None = None,
        reason: str | None = None,
    ) -> PaymentEvent:
        clock[0] += timedelta(seconds=draw(st.integers(1, 600)))
        serial[0] += 1
        return PaymentEvent(
            event_id=f"evt_{serial[0]}",
            kind=kind,
            payment_reference=reference,
            gateway_payment_id=gateway_payment_id,
            occurred_at=clock[0],
            amount=amount,
            refund_id=refund_id,
            reason=reason,
        )

    progress = (
        PaymentEventKind.PENDING,
        PaymentEventKind.ACTION_REQUIRED,
        PaymentEventKind.AUTHORIZED,
    )
    history = [event(kind) for kind in progress if draw(st.booleans())]
    outcome = draw(st.sampled_from(["success", "failure", "late", "none", "canceled"]))
    if outcome in ("failure", "late"):
        history.append(event(PaymentEventKind.FAILED, reason="declined"))
    captures = outcome == "success"
    if outcome == "late":
        if draw(st.booleans()):
            clock[0] = max(clock[0], created_at + window)
        if draw(st.booleans()):
            history.append(event(PaymentEventKind.AUTHORIZED))
        captures = draw(st.booleans())
        if not captures and draw(st.booleans()):
            history.append(event(PaymentEventKind.FAILED, reason="authorisation expired"))
    if captures:
        history.append(event(PaymentEventKind.SUCCEEDED, amount=amount))
        left = amount.minor_units
        for n in range(draw(st.integers(0, 3))):
            units = draw(st.integers(1, left)) if left > 0 else 0
            if not units:
                break
            refund, rid = Money.from_minor_units(units, amount.currency), f"refund_{n}"
            kinds = [PaymentEventKind.REFUND_FAILED, PaymentEventKind.REFUND_SUCCEEDED]
            chosen = [k for k in kinds if draw(st.booleans())]
            history.extend(event(k, amount=refund, refund_id=rid) for k in chosen)
            left -= units if PaymentEventKind.REFUND_SUCCEEDED in chosen else 0
    if outcome == "canceled":
        history.append(event(PaymentEventKind.CANCELED))
    return history


@st.composite
def gateway_event_sets(
    draw: st.DrawFn,
    *,
    reference: str,
    gateway_payment_id: str,
    amount: Money,
    created_at: datetime,
    window: timedelta,
    max_events: int = 8,
) -> list[PaymentEvent]:
    """Any set of events for one payment, plausible or not, up to twice the window after creation.

    The input a status rule must handle whatever a gateway does. Every success reports the
    same capture instant and refunds stay within the amount (what any gateway guarantees).
    Shrinks towards one event.
    """
    status_kinds = [k for k in PaymentEventKind if not k.is_refund]
    offsets = st.integers(0, int(2 * window.total_seconds()))
    out: list[PaymentEvent] = []
    left = amount.minor_units
    captured_at = created_at + timedelta(seconds=draw(offsets))  # one capture, one instant
    for n in range(draw(st.integers(1, max_events))):
        at = created_at + timedelta(seconds=draw(offsets))
        kind = draw(st.sampled_from([*status_kinds, PaymentEventKind.REFUND_SUCCEEDED]))
        money, refund_id = None, None
        if kind.is_refund:
            if left <= 0:
                continue
            units = draw(st.integers(1, left))
            left -= units
            money, refund_id = Money.from_minor_units(units, amount.currency), f"refund_{n}"
        elif kind is PaymentEventKind.SUCCEEDED:
            money, at = amount, captured_at
        out.append(
            PaymentEvent(
                event_id=f"evt_{n}",
                kind=kind,
                payment_reference=reference,
                gateway_payment_id=gateway_payment_id,
                occurred_at=at,
                amount=money,
                refund_id=refund_id,
            )
        )
    return out


@st.composite
def deliveries(draw: st.DrawFn, items: list[T], *, max_duplicates: int = 5) -> list[T]:
    """`items` in any order, each at least once, some repeated; shrinks towards the given order."""
    order = draw(st.permutations(items)) if items else []
    out = list(order)
    if items:
        for _ in range(draw(st.integers(0, max_duplicates))):
            copy = draw(st.sampled_from(items))
            out.insert(draw(st.integers(0, len(out))), copy)
    return out
