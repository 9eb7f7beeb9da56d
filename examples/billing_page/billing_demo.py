"""The demo account the billing page shows, built by calling minutebill's service.

Five weeks of an account's life on the *Pro* plan, in simulated time (a `FixedClock`) with the
fake payment gateway: it signs up, tops up its wallet by UPI, buys two phone numbers (one with
Auto-Pay, one without), places calls for three campaigns, renews into a second month (the
number without Auto-Pay goes *On Hold*), buys a *Nexus* add-on and keeps calling — 1,381
minutes of the second month's 5,300, which the page shows as ``26.06% Used``.

Every step goes through `Billing` with an idempotency key or a call id, so building the demo
again on the same database changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from minutebill import Billing, Card, CardFunding, CheckoutResult, Money, Upi
from minutebill.testing.fakes import FixedClock

ACCOUNT = "demo-account"
TIMEZONE = "Asia/Kolkata"
IST = ZoneInfo(TIMEZONE)
SIGNED_UP = datetime(2025, 4, 10, 9, 0, tzinfo=IST)
CAMPAIGNS = ("summer-sale", "payment-reminders", "feedback-survey")

UPI = Upi("asha@okaxis")
CARD = Card("visa", "4242", CardFunding.CREDIT)

# Billed minutes of the second month's calls (60/60 rating: each call is billed whole minutes).
_PATTERN = (12, 18, 9, 21, 14, 16, 11, 19)
SECOND_MONTH_MINUTES = (*(_PATTERN * 11), 12, 18, 9, 21, 1)
assert sum(SECOND_MONTH_MINUTES) == 1381


def build_demo(billing: Billing, clock: FixedClock) -> list[CheckoutResult]:
    """Give `billing` the demo account, moving `clock` (the one `billing` reads) along.

    Returns:
        The purchases made, in order, for the page's *Recent purchases*.
    """
    move = clock.set
    move(SIGNED_UP)
    billing.subscribe(ACCOUNT, "pro", timezone=TIMEZONE)
    purchases = [
        billing.top_up(ACCOUNT, Money("20000.00", "INR"), UPI, idempotency_key="demo:top-up"),
        billing.acquire_number(
            ACCOUNT, "in-local", "+918040001234", CARD, idempotency_key="demo:number-1"
        ),
    ]
    move(SIGNED_UP + timedelta(days=2, hours=2))
    purchases.append(
        billing.acquire_number(
            ACCOUNT,
            "in-local",
            "+912240005678",
            UPI,
            auto_pay=False,
            idempotency_key="demo:number-2",
        )
    )
    first_month = tuple(10 + (n * 7) % 15 for n in range(40))
    _calls(billing, clock, SIGNED_UP + timedelta(days=4, hours=1), first_month, "m1")

    # The first month ends: the plan and the number with Auto-Pay renew from the wallet...
    move(SIGNED_UP + timedelta(days=30, minutes=30))
    billing.run_due()
    # ... and the number without Auto-Pay goes On Hold when its own renewal falls due.
    move(SIGNED_UP + timedelta(days=32, hours=2, minutes=30))
    billing.run_due()

    second = SIGNED_UP + timedelta(days=30, hours=1)
    _calls(billing, clock, second, SECOND_MONTH_MINUTES[:60], "m2")
    move(second + timedelta(days=3, hours=6))
    purchases.append(billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="demo:nexus"))
    _calls(billing, clock, second + timedelta(days=4, hours=-1), SECOND_MONTH_MINUTES[60:], "m2b")
    return purchases


def _calls(
    billing: Billing, clock: FixedClock, start: datetime, minutes: tuple[int, ...], prefix: str
) -> None:
    """One call after another, 19 a day from `start`'s hour, each billed `minutes[n]`."""
    for n, billed in enumerate(minutes):
        day, slot = divmod(n, 19)
        begins = start + timedelta(days=day, minutes=30 * slot)
        call_id = f"{prefix}-{n:03d}"
        lasted = timedelta(minutes=billed) - timedelta(seconds=1 + (n * 13) % 50)
        clock.set(begins)
        billing.start_call(ACCOUNT, call_id, max_seconds=1800)
        clock.set(begins + lasted)
        billing.end_call(ACCOUNT, call_id, lasted, tags=[CAMPAIGNS[n % len(CAMPAIGNS)]])
