"""Plain-data views of an account for a billing page, formatted with Babel on request.

Views are built by `Billing` (or from its results) at one instant and never change afterwards.
Each has ``format(locale)``, which returns the strings a page shows: money as ``₹1,50,000.00``
in ``en_IN``, the used share as ``26.06%``, dates in the account's time zone and relative times
("renews in 3 days") measured from the view's ``as_of`` — never from the clock, so a view
formats the same way whenever it is rendered. The locale is always an argument; nothing here
reads a process-wide locale. `usage_chart_svg` draws the used share as an accessible donut.

The JSON form of every view, and its published JSON Schema, live in `minutebill.view_schemas`.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol, TypedDict

from attrs import evolve, frozen
from babel import Locale

from minutebill._formatting import (
    format_billed_minutes,
    format_capabilities,
    format_clock_duration,
    format_count,
    format_day,
    format_local_date,
    format_minutes,
    format_moment,
    format_money,
    format_per_interval,
    format_period,
    format_rate,
    format_relative,
    format_used_percent,
    label,
)
from minutebill._unit_of_work import UsageTotals
from minutebill.domain.catalog import Capability
from minutebill.domain.checkout import Quote
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.money import Money
from minutebill.domain.numbers import NumberSubscription
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.subscriptions import Subscription
from minutebill.domain.tax import TaxLine
from minutebill.domain.usage import UsageRecord
from minutebill.domain.wallet import Wallet

__all__ = [
    "PAYMENT_MODES",
    "CallText",
    "CallUsage",
    "CheckoutLine",
    "CheckoutOutcome",
    "CheckoutText",
    "CheckoutView",
    "DailyUsage",
    "DayText",
    "NumberText",
    "NumberView",
    "OverviewText",
    "PlanOverview",
    "TagText",
    "TagUsage",
    "TaxLineText",
    "UsageSummary",
    "UsageText",
    "format_money",
    "usage_chart_svg",
]

_MINUTE = Decimal(60)
_CENT = Decimal("0.01")


def _minutes(seconds: int) -> Decimal:
    return (Decimal(seconds) / _MINUTE).quantize(_CENT)


# --- the plan overview -----------------------------------------------------------------------


class OverviewText(TypedDict):
    """`PlanOverview.format`: every figure of the overview as display text."""

    account_id: str
    plan: str
    plan_code: str
    status: str
    total_minutes: str
    remaining_minutes: str
    used_minutes: str
    held_minutes: str
    overage_minutes: str
    used_percent: str
    used_label: str
    period: str
    next_billing: str
    next_billing_relative: str
    plan_expiry: str
    plan_expiry_relative: str
    renewal_note: str
    wallet_balance: str
    concurrent_calls: str
    phone_numbers: str
    queue_priority: str
    as_of: str


@frozen(kw_only=True)
class PlanOverview:
    """The top of the billing page: the plan, its minutes and its dates.

    Attributes:
        account_id: The account.
        plan_code: The current plan's code (``"pro"``).
        plan_name: Its name (*Pro*).
        status: ``active``, ``past_due``, ``canceled`` or ``expired``.
        timezone: The account's time zone; dates are shown in it.
        total_minutes: Minutes available to the current period (plan and add-ons).
        remaining_minutes: Minutes free to use now.
        used_minutes: Minutes used by calls in the period.
        held_minutes: Minutes held for calls in progress.
        used_percent: Used as a percentage of total, two places, half up (``26.06``).
        overage_minutes: Minutes no grant covered in the period.
        period_start: Start of the current period.
        period_end: End of the current period.
        next_billing_at: *Next Billing* — when the next renewal is charged (None if none).
        expires_at: *Plan Expiry* — when service ends unless paid.
        wallet_balance: The prepaid wallet's balance.
        concurrent_calls: Calls the plan allows at once.
        phone_numbers: Numbers the plan allows.
        queue_priority: The plan's boosted-queueing priority.
        as_of: The instant the figures are for.
    """

    account_id: str
    plan_code: str
    plan_name: str
    status: str
    timezone: str
    total_minutes: Decimal
    remaining_minutes: Decimal
    used_minutes: Decimal
    held_minutes: Decimal
    used_percent: Decimal
    overage_minutes: Decimal
    period_start: datetime
    period_end: datetime
    next_billing_at: datetime | None
    expires_at: datetime | None
    wallet_balance: Money
    concurrent_calls: int
    phone_numbers: int
    queue_priority: int
    as_of: datetime

    @classmethod
    def build(
        cls, subscription: Subscription, ledger: MinuteLedger, wallet: Wallet, at: datetime
    ) -> PlanOverview:
        """The overview of one account at `at`."""
        snap = ledger.snapshot(at)
        plan = subscription.plan
        period = subscription.current_period
        return cls(
            account_id=subscription.account_id,
            plan_code=plan.code,
            plan_name=plan.name,
            status=subscription.status.value,
            timezone=subscription.cycle.timezone,
            total_minutes=snap.total_minutes,
            remaining_minutes=snap.remaining_minutes,
            used_minutes=snap.used_minutes,
            held_minutes=_minutes(snap.held_seconds),
            used_percent=snap.used_percent,
            overage_minutes=_minutes(snap.overage_seconds),
            period_start=period.start,
            period_end=period.end,
            next_billing_at=subscription.next_billing_at,
            expires_at=subscription.expires_at,
            wallet_balance=wallet.balance,
            concurrent_calls=plan.features.concurrent_calls,
            phone_numbers=plan.features.phone_numbers,
            queue_priority=plan.features.queue_priority,
            as_of=at,
        )

    def format(self, locale: str) -> OverviewText:
        """Every figure as `locale` writes it; dates in the account's time zone.

        ``used_label`` is the chart's caption (``26.06% Used``); ``renewal_note`` says what
        happens next relative to `as_of` (``renews in 3 days``, ``ends in 5 days``).
        """
        tz, at = self.timezone, self.as_of

        def day(when: datetime | None) -> str:
            return "—" if when is None else format_day(when, tz, locale)

        def relative(when: datetime | None) -> str:
            return "" if when is None else format_relative(when, at, tz, locale)

        percent = format_used_percent(self.used_percent, locale)
        return OverviewText(
            account_id=self.account_id,
            plan=self.plan_name,
            plan_code=self.plan_code,
            status=label(self.status),
            total_minutes=format_minutes(self.total_minutes, locale),
            remaining_minutes=format_minutes(self.remaining_minutes, locale),
            used_minutes=format_minutes(self.used_minutes, locale),
            held_minutes=format_minutes(self.held_minutes, locale),
            overage_minutes=format_minutes(self.overage_minutes, locale),
            used_percent=percent,
            used_label=f"{percent} Used",
            period=format_period(self.period_start, self.period_end, tz, locale),
            next_billing=day(self.next_billing_at),
            next_billing_relative=relative(self.next_billing_at),
            plan_expiry=day(self.expires_at),
            plan_expiry_relative=relative(self.expires_at),
            renewal_note=self._renewal_note(relative),
            wallet_balance=format_money(self.wallet_balance, locale),
            concurrent_calls=format_count(self.concurrent_calls, locale),
            phone_numbers=format_count(self.phone_numbers, locale),
            queue_priority=format_count(self.queue_priority, locale),
            as_of=format_moment(at, tz, locale),
        )

    def _renewal_note(self, relative: _Relative) -> str:
        """What happens next, in the tense the dates call for (the due work may lag)."""
        if self.status == "active" and self.next_billing_at is not None:
            when = self.next_billing_at
            verb = "renews" if when > self.as_of else "renewal due"
            return f"{verb} {relative(when)}"
        if self.expires_at is None:
            return ""
        upcoming = self.expires_at > self.as_of
        verbs = {
            "canceled": ("ends", "ended"),
            "past_due": ("payment due; service ends", "payment due; service ended"),
            "expired": ("expires", "expired"),
        }
        pair = verbs.get(self.status)
        if pair is None:
            return ""
        return f"{pair[0] if upcoming else pair[1]} {relative(self.expires_at)}"


class _Relative(Protocol):
    def __call__(self, when: datetime | None) -> str: ...


# --- phone numbers ---------------------------------------------------------------------------


class NumberText(TypedDict):
    """`NumberView.format`: one row of the numbers table as display text."""

    number: str
    country: str
    kind: str
    capabilities: str
    status: str
    status_note: str
    auto_pay: str
    recurring_fee: str
    paid_through: str
    paid_through_relative: str
    hold_reason: str
    release_after: str
    release_after_relative: str


@frozen(kw_only=True)
class NumberView:
    """One row of the numbers table: status, Auto-Pay, fees and dates.

    Attributes:
        number_e164: The number.
        country: Its country (ISO 3166 alpha-2).
        kind: Local, mobile, toll-free, ...
        capabilities: What it can do (Voice, SMS).
        status: ``active``, ``on_hold`` or ``released``.
        auto_pay: Whether renewals are charged automatically.
        has_mandate: Whether a saved payment method backs Auto-Pay.
        recurring_fee: What each interval costs.
        paid_through: Until when it is paid.
        hold_reason: Why it is on hold (``insufficient_credit``, ...), if it is.
        release_after: When a held number goes back to the provider, if it is on hold.
        as_of: The instant the row is for.
        interval_months: How many months the recurring fee pays for.
    """

    number_e164: str
    country: str
    kind: str
    capabilities: frozenset[Capability]
    status: str
    auto_pay: bool
    has_mandate: bool
    recurring_fee: Money
    paid_through: datetime
    hold_reason: str | None
    release_after: datetime | None
    as_of: datetime
    interval_months: int = 1

    @classmethod
    def build(cls, number: NumberSubscription, at: datetime) -> NumberView:
        """The row of `number` at `at`."""
        hold = number.hold
        return cls(
            number_e164=number.number_e164,
            country=number.offer.country,
            kind=number.offer.kind,
            capabilities=number.offer.capabilities,
            status=number.status.value,
            auto_pay=number.auto_pay,
            has_mandate=number.has_mandate,
            recurring_fee=number.recurring_fee,
            paid_through=number.paid_through,
            hold_reason=None if hold is None else hold.reason.value,
            release_after=None if hold is None else hold.release_after,
            as_of=at,
            interval_months=number.offer.interval.months,
        )

    @property
    def can_release(self) -> bool:
        """Whether the page offers the *Release* button (not for a released number)."""
        return self.status != "released"

    def format(self, locale: str, timezone: str = "UTC") -> NumberText:
        """The row as `locale` writes it, dates in `timezone` (pass the account's)."""
        at = self.as_of
        paid = format_day(self.paid_through, timezone, locale)
        paid_rel = format_relative(self.paid_through, at, timezone, locale)
        release = self.release_after
        release_day = "" if release is None else format_day(release, timezone, locale)
        release_rel = "" if release is None else format_relative(release, at, timezone, locale)
        reason = "" if self.hold_reason is None else label(self.hold_reason)
        if self.status == "on_hold":
            note = f"{reason}; released {release_rel}" if release_rel else reason
        elif self.status == "released":
            note = "Returned to the provider"
        else:
            note = f"paid through {paid}"
        return NumberText(
            number=self.number_e164,
            country=Locale.parse(locale).territories.get(self.country, self.country),
            kind=label(self.kind),
            capabilities=format_capabilities(self.capabilities, locale),
            status=label(self.status),
            status_note=note,
            auto_pay="Active" if self.auto_pay else "Off",
            recurring_fee=format_per_interval(self.recurring_fee, self.interval_months, locale),
            paid_through=paid,
            paid_through_relative=paid_rel,
            hold_reason=reason,
            release_after=release_day,
            release_after_relative=release_rel,
        )


# --- checkout --------------------------------------------------------------------------------

PAYMENT_MODES: tuple[str, ...] = ("upi", "card")
"""The checkout's payment modes: UPI for instant mobile payments, credit and debit cards."""


class CheckoutOutcome(Protocol):
    """What `CheckoutView.build` reads from a purchase: `minutebill.service.CheckoutResult`."""

    @property
    def quote(self) -> Quote:
        """The quote the customer was shown."""
        ...

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The capabilities the purchase includes."""
        ...

    @property
    def status(self) -> PaymentStatus:
        """Where its payment stands."""
        ...

    @property
    def next_action_url(self) -> str | None:
        """Where the customer completes an extra step, if the gateway asked for one."""
        ...


@frozen(kw_only=True)
class CheckoutLine:
    """One line of the order.

    Attributes:
        kind: ``bundle``, ``top_up``, ``number`` or ``plan``.
        description: What it is (``Nexus add-on, 300 min``).
        amount: Its price now.
        upfront_fee: Its one-time fee.
    """

    kind: str
    description: str
    amount: Money
    upfront_fee: Money


class TaxLineText(TypedDict):
    """One tax component as display text."""

    name: str
    rate: str
    amount: str
    label: str


class CheckoutText(TypedDict):
    """`CheckoutView.format`: the checkout breakdown as display text.

    ``rows`` is the breakdown in order, as (label, value) pairs: *Amount*, *Up Front Fees*,
    each tax line that is not zero (``CGST 9%``), *Total Amount*. ``tax_lines`` lists every
    tax line, zero or not.
    """

    lines: list[tuple[str, str]]
    amount: str
    upfront_fees: str
    tax: str
    tax_lines: list[TaxLineText]
    total: str
    rows: list[tuple[str, str]]
    capabilities: str
    capabilities_note: str
    payment_modes: list[str]
    status: str
    valid_until: str


@frozen(kw_only=True)
class CheckoutView:
    """The checkout screen of a purchase: breakdown, capabilities and payment modes.

    Attributes:
        quote_id: The quote shown.
        account_id: The paying account.
        lines: What is bought.
        amount: *Amount*: the price of the lines.
        upfront_fees: *Up Front Fees*: one-time fees (a number's activation).
        tax: The tax on the order (0 without a tax policy).
        tax_lines: Its components (CGST and SGST, or IGST), summing exactly to `tax`.
        tax_included: Whether the prices already include the tax.
        total: *Total Amount*: what paying charges.
        capabilities: What the purchase includes (*SMS*, *Voice*), confirmed at checkout.
        payment_modes: The modes offered, from `PAYMENT_MODES`.
        status: The payment's status; None for a preview not yet paid.
        next_action_url: Where the customer completes a UPI approval or 3-D Secure step.
        priced_at: When the quote was priced.
        valid_until: Until when it may be paid.
        timezone: The time zone its dates are shown in.
    """

    quote_id: str
    account_id: str
    lines: tuple[CheckoutLine, ...]
    amount: Money
    upfront_fees: Money
    tax: Money
    tax_lines: tuple[TaxLine, ...]
    tax_included: bool
    total: Money
    capabilities: frozenset[Capability]
    payment_modes: tuple[str, ...]
    status: str | None
    next_action_url: str | None
    priced_at: datetime
    valid_until: datetime
    timezone: str = "UTC"

    @classmethod
    def build(
        cls,
        result: CheckoutOutcome,
        *,
        timezone: str = "UTC",
        payment_modes: Sequence[str] = PAYMENT_MODES,
    ) -> CheckoutView:
        """The checkout of a purchase (`Billing.checkout_bundle`, `top_up`, `acquire_number`)."""
        view = cls.preview(result.quote, timezone=timezone, payment_modes=payment_modes)
        return _evolve_paid(view, result)

    @classmethod
    def preview(
        cls, quote: Quote, *, timezone: str = "UTC", payment_modes: Sequence[str] = PAYMENT_MODES
    ) -> CheckoutView:
        """The checkout of a priced but unpaid quote (what the page shows before *Pay*)."""
        b = quote.breakdown
        return cls(
            quote_id=quote.quote_id,
            account_id=quote.account_id,
            lines=tuple(
                CheckoutLine(
                    kind=line.kind.value,
                    description=line.description,
                    amount=line.amount,
                    upfront_fee=line.upfront_fee,
                )
                for line in quote.lines
            ),
            amount=b.amount,
            upfront_fees=b.upfront_fees,
            tax=b.tax,
            tax_lines=b.tax_lines,
            tax_included=b.tax_included,
            total=b.total,
            capabilities=quote.capabilities,
            payment_modes=tuple(payment_modes),
            status=None,
            next_action_url=None,
            priced_at=quote.priced_at,
            valid_until=quote.valid_until,
            timezone=timezone,
        )

    def format(self, locale: str) -> CheckoutText:
        """The breakdown as `locale` writes it: ``Amount ₹449.00``, ``CGST 9% ₹40.41``, ..."""
        money = format_money
        taxes = [
            TaxLineText(
                name=t.name,
                rate=format_rate(t.rate, locale),
                amount=money(t.amount, locale),
                label=f"{t.name} {format_rate(t.rate, locale)}",
            )
            for t in self.tax_lines
        ]
        included = " (included)" if self.tax_included else ""
        rows = [
            ("Amount", money(self.amount, locale)),
            ("Up Front Fees", money(self.upfront_fees, locale)),
            *[
                (t["label"] + included, t["amount"])
                for t, line in zip(taxes, self.tax_lines, strict=True)
                if line.amount.amount
            ],
            ("Total Amount", money(self.total, locale)),
        ]
        caps = format_capabilities(self.capabilities, locale)
        return CheckoutText(
            lines=[
                (line.description, money(line.amount + line.upfront_fee, locale))
                for line in self.lines
            ],
            amount=money(self.amount, locale),
            upfront_fees=money(self.upfront_fees, locale),
            tax=money(self.tax, locale),
            tax_lines=taxes,
            total=money(self.total, locale),
            rows=rows,
            capabilities=caps,
            capabilities_note=f"Includes {caps} capabilities" if caps else "",
            payment_modes=[label(mode) for mode in self.payment_modes],
            status="" if self.status is None else label(self.status),
            valid_until=format_moment(self.valid_until, self.timezone, locale),
        )


def _evolve_paid(view: CheckoutView, result: CheckoutOutcome) -> CheckoutView:
    return evolve(
        view,
        capabilities=result.capabilities,
        status=result.status.value,
        next_action_url=result.next_action_url,
    )


# --- usage -----------------------------------------------------------------------------------


@frozen(kw_only=True)
class DailyUsage:
    """Usage on one local day of the account.

    Attributes:
        day: The day in the account's time zone.
        calls: Calls settled that day.
        billable_seconds: Seconds billed for them.
        overage_seconds: Of those, seconds no grant covered.
    """

    day: date
    calls: int
    billable_seconds: int
    overage_seconds: int

    @property
    def billable_minutes(self) -> Decimal:
        """Billed minutes, two places."""
        return _minutes(self.billable_seconds)


@frozen(kw_only=True)
class TagUsage:
    """Usage of one tag (a campaign, an agent) over the summary's days.

    Attributes:
        tag: The tag the host put on its calls.
        calls: Calls carrying it.
        billable_seconds: Seconds billed for them.
        overage_seconds: Of those, seconds no grant covered.
    """

    tag: str
    calls: int
    billable_seconds: int
    overage_seconds: int

    @property
    def billable_minutes(self) -> Decimal:
        """Billed minutes, two places."""
        return _minutes(self.billable_seconds)


@frozen(kw_only=True)
class CallUsage:
    """One settled call of the *Usage* tab's history.

    Attributes:
        call_id: The host's id of the call.
        started_at: When it started.
        duration_seconds: How long it lasted (whole seconds, rounded up).
        billable_seconds: What it was billed after rating.
        overage_seconds: Of those, seconds no grant covered.
        tags: Its tags, sorted.
    """

    call_id: str
    started_at: datetime
    duration_seconds: int
    billable_seconds: int
    overage_seconds: int
    tags: tuple[str, ...]

    @classmethod
    def build(cls, record: UsageRecord) -> CallUsage:
        """The history row of a settled call."""
        whole, fraction = divmod(record.duration.total_seconds(), 1)
        return cls(
            call_id=record.call_id,
            started_at=record.started_at,
            duration_seconds=int(whole) + (1 if fraction else 0),
            billable_seconds=record.billable_seconds,
            overage_seconds=record.overage_seconds,
            tags=tuple(sorted(record.tags)),
        )


class DayText(TypedDict):
    """One day of `UsageText`."""

    day: str
    calls: str
    billed: str
    overage: str


class TagText(TypedDict):
    """One tag of `UsageText`."""

    tag: str
    calls: str
    billed: str
    overage: str


class CallText(TypedDict):
    """One call of `UsageText`."""

    call_id: str
    started_at: str
    duration: str
    billed: str
    overage: str
    tags: str


class UsageText(TypedDict):
    """`UsageSummary.format`: the *Usage* tab as display text."""

    range: str
    calls: str
    billed: str
    overage: str
    days: list[DayText]
    tags: list[TagText]
    recent: list[CallText]


@frozen(kw_only=True)
class UsageSummary:
    """The *Usage* tab: totals per local day and per tag, and the latest calls.

    A call with several tags counts under each, and calls without tags under none, so the tag
    totals need not add up to the day totals; the day totals are the account's.

    Attributes:
        account_id: The account.
        timezone: The account's time zone, which the days are in.
        since: The first day covered.
        until: The day after the last one covered.
        days: Days with calls, oldest first (days without calls are left out).
        tags: Tags with calls, most billed first.
        recent: The latest settled calls, newest first (may be empty).
        next_cursor: Where the history continues (`Billing.usage_history`), if it does.
        as_of: The instant the summary is for.
    """

    account_id: str
    timezone: str
    since: date
    until: date
    days: tuple[DailyUsage, ...]
    tags: tuple[TagUsage, ...]
    recent: tuple[CallUsage, ...] = ()
    next_cursor: str | None = None
    as_of: datetime

    @classmethod
    def build(
        cls,
        account_id: str,
        *,
        timezone: str,
        since: date,
        until: date,
        by_day: Iterable[tuple[date, UsageTotals]],
        by_tag: Mapping[str, UsageTotals],
        as_of: datetime,
        recent: Iterable[UsageRecord] = (),
        next_cursor: str | None = None,
    ) -> UsageSummary:
        """The summary from `Billing.usage_by_day`, `usage_by_tag` and `usage_history`."""
        days = sorted(
            (
                DailyUsage(
                    day=day,
                    calls=t.calls,
                    billable_seconds=t.billable_seconds,
                    overage_seconds=t.overage_seconds,
                )
                for day, t in by_day
            ),
            key=lambda d: d.day,
        )
        tags = sorted(
            (
                TagUsage(
                    tag=tag,
                    calls=t.calls,
                    billable_seconds=t.billable_seconds,
                    overage_seconds=t.overage_seconds,
                )
                for tag, t in by_tag.items()
            ),
            key=lambda t: (-t.billable_seconds, t.tag),
        )
        return cls(
            account_id=account_id,
            timezone=timezone,
            since=since,
            until=until,
            days=tuple(days),
            tags=tuple(tags),
            recent=tuple(CallUsage.build(r) for r in recent),
            next_cursor=next_cursor,
            as_of=as_of,
        )

    @property
    def calls(self) -> int:
        """Calls over all days."""
        return sum(d.calls for d in self.days)

    @property
    def billable_seconds(self) -> int:
        """Seconds billed over all days."""
        return sum(d.billable_seconds for d in self.days)

    @property
    def overage_seconds(self) -> int:
        """Overage seconds over all days."""
        return sum(d.overage_seconds for d in self.days)

    def format(self, locale: str) -> UsageText:
        """The tab as `locale` writes it; call times in the account's time zone."""
        billed = format_billed_minutes

        def row(calls: int, billable: int, overage: int) -> tuple[str, str, str]:
            return format_count(calls, locale), billed(billable, locale), billed(overage, locale)

        days: list[DayText] = []
        for d in self.days:
            calls, bill, over = row(d.calls, d.billable_seconds, d.overage_seconds)
            days.append(
                DayText(
                    day=format_local_date(d.day, locale), calls=calls, billed=bill, overage=over
                )
            )
        tags: list[TagText] = []
        for t in self.tags:
            calls, bill, over = row(t.calls, t.billable_seconds, t.overage_seconds)
            tags.append(TagText(tag=t.tag, calls=calls, billed=bill, overage=over))
        recent = [
            CallText(
                call_id=c.call_id,
                started_at=format_moment(c.started_at, self.timezone, locale),
                duration=format_clock_duration(c.duration_seconds),
                billed=billed(c.billable_seconds, locale),
                overage=billed(c.overage_seconds, locale),
                tags=", ".join(c.tags),
            )
            for c in self.recent
        ]
        last = date.fromordinal(max(self.until.toordinal() - 1, self.since.toordinal()))
        calls, bill, over = row(self.calls, self.billable_seconds, self.overage_seconds)
        return UsageText(
            range=f"{format_local_date(self.since, locale)} – {format_local_date(last, locale)}",
            calls=calls,
            billed=bill,
            overage=over,
            days=days,
            tags=tags,
            recent=recent,
        )


# --- the usage chart -------------------------------------------------------------------------

_RADIUS = "15.91549430918954"  # circumference 100: dash lengths are percentages
_COLOURS = {"used": "#4f46e5", "held": "#a5b4fc", "track": "#e5e7eb", "warn": "#d97706"}
_FULL = "#dc2626"
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def usage_chart_svg(overview: PlanOverview, *, locale: str = "en", size: int = 160) -> str:
    """A small, accessible SVG donut of used (and held) versus remaining minutes.

    The ring is the period's total; the filled arc is `PlanOverview.used_percent`, starting at
    twelve o'clock, amber from 80 % and red at 100 %; minutes held for live calls follow in a
    lighter shade. The percentage and *Used* are written in the middle. Screen readers get
    the ``<title>`` (``Minutes used: 26.06%``) and the ``<desc>`` (used, held and remaining
    minutes) through ``role="img"`` and ``aria-labelledby``. The markup is self-contained
    (no scripts, styles or external references) and its ids are unique per account.

    Args:
        overview: The overview to draw.
        locale: How the numbers in the title, description and centre are written.
        size: Width and height in CSS pixels.
    """
    text = overview.format(locale)
    total = overview.total_minutes
    used = _clamp(overview.used_percent)
    held = Decimal(0)
    if total > 0:
        share = (overview.held_minutes * 100 / total).quantize(_CENT, rounding=ROUND_HALF_UP)
        held = min(_clamp(share), Decimal(100) - used)
    used_colour = _COLOURS["used"]
    if overview.used_percent >= 100:
        used_colour = _FULL
    elif overview.used_percent >= 80:
        used_colour = _COLOURS["warn"]
    ident = _chart_id(overview.account_id)
    title = f"Minutes used: {text['used_percent']}"
    held_note = f", {text['held_minutes']} held for live calls" if overview.held_minutes else ""
    desc = (
        f"{text['used_minutes']} of {text['total_minutes']} minutes used{held_note}, "
        f"{text['remaining_minutes']} remaining in the {overview.plan_name} plan period "
        f"{text['period']}."
    )
    e = html.escape
    arcs = [_arc(used, Decimal(0), used_colour)]
    if held:
        arcs.append(_arc(held, used, _COLOURS["held"]))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 42 42" width="{int(size)}" '
        f'height="{int(size)}" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        f'class="minutebill-usage-chart">'
        f'<title id="{ident}-title">{e(title)}</title>'
        f'<desc id="{ident}-desc">{e(desc)}</desc>'
        f'<circle cx="21" cy="21" r="{_RADIUS}" fill="none" stroke="{_COLOURS["track"]}" '
        f'stroke-width="5"/>'
        f"{''.join(arcs)}"
        f'<text x="21" y="21" text-anchor="middle" font-family="sans-serif" font-size="5.5" '
        f'font-weight="bold" fill="#111827">{e(text["used_percent"])}</text>'
        f'<text x="21" y="26.5" text-anchor="middle" font-family="sans-serif" font-size="3.6" '
        f'fill="#4b5563">Used</text>'
        "</svg>"
    )


def _chart_id(account_id: str) -> str:
    """An HTML id for the account's chart: readable, and distinct for distinct accounts."""
    safe = _ID_UNSAFE.sub("-", account_id)
    if safe != account_id:  # "a b" and "a-b" must not share an id
        safe += "-" + hashlib.sha256(account_id.encode()).hexdigest()[:8]
    return f"minutebill-usage-{safe}"


def _clamp(percent: Decimal) -> Decimal:
    return min(max(percent, Decimal(0)), Decimal(100))


def _arc(length: Decimal, start: Decimal, colour: str) -> str:
    """A stroke of `length` percent beginning `start` percent clockwise from twelve o'clock."""
    if length <= 0:
        return ""
    offset = Decimal(25) - start  # the stroke starts at three o'clock; 25 moves it to twelve
    return (
        f'<circle cx="21" cy="21" r="{_RADIUS}" fill="none" stroke="{colour}" stroke-width="5" '
        f'stroke-dasharray="{length} {Decimal(100) - length}" stroke-dashoffset="{offset}"/>'
    )
