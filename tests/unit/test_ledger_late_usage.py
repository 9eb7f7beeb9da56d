"""Late usage: overage of calls settled after the period end, covered by a paid late renewal.

While a renewal is past due the ledger still counts the ended period; calls settled then are
overage of that period, counted apart as late usage. When the renewal is paid and opens the
next period, `MinuteLedger.cover_late_usage` takes those seconds from the new plan grant as
far as it goes and splits their money in proportion.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from minutebill.domain.catalog import OveragePolicy
from minutebill.domain.ledger import (
    GrantSource,
    LateUsageCovered,
    LedgerPolicy,
    MinuteLedger,
    ParsedLedgerValues,
)
from minutebill.domain.money import Money, sum_money
from minutebill.domain.periods import BillingPeriod
from minutebill.domain.rating import BillingIncrement

T0 = datetime(2025, 1, 1, tzinfo=UTC)
JANUARY = BillingPeriod(T0, datetime(2025, 2, 1, tzinfo=UTC))
FEBRUARY = BillingPeriod(JANUARY.end, datetime(2025, 3, 1, tzinfo=UTC))
MARCH = BillingPeriod(FEBRUARY.end, datetime(2025, 4, 1, tzinfo=UTC))


def inr(amount: str | int) -> Money:
    return Money(amount, "INR")


ARREARS = LedgerPolicy(
    rating=BillingIncrement.PER_SECOND, overage=OveragePolicy.bill_in_arrears(inr("1.20"))
)
WALLET = LedgerPolicy(
    rating=BillingIncrement.PER_SECOND, overage=OveragePolicy.charge_wallet(inr("1.50"))
)


def january_ledger(policy: LedgerPolicy = ARREARS, plan_seconds: int = 600) -> MinuteLedger:
    ledger = MinuteLedger("acct-1", policy)
    ledger.open_period(JANUARY, T0)
    ledger.grant("plan:0", GrantSource.PLAN, plan_seconds, T0, expires_at=JANUARY.end)
    return ledger


def renew_into_february(ledger: MinuteLedger, plan_seconds: int, at: datetime) -> None:
    """What a paid renewal does to the ledger: expire, open February, grant its plan."""
    ledger.expire(at)
    ledger.open_period(FEBRUARY, at)
    start, end = FEBRUARY.start, FEBRUARY.end
    ledger.grant("plan:1", GrantSource.PLAN, plan_seconds, at, effective_at=start, expires_at=end)


def total(amounts: tuple[Money, ...]) -> Money:
    return sum_money(amounts, "INR")


def test_only_calls_settled_at_or_after_the_period_end_are_late() -> None:
    ledger = january_ledger()
    ledger.settle("before", timedelta(seconds=700), JANUARY.end - timedelta(seconds=1))
    assert ledger.late_seconds == 0  # 100 s of January's own overage
    ledger.settle("at-end", timedelta(seconds=60), JANUARY.end)
    assert ledger.late_seconds == 60
    assert ledger.late_arrears_covered(10_000) == (inr("1.20"),)


def test_a_paid_renewal_covers_late_usage_with_its_plan_minutes() -> None:
    ledger = january_ledger()
    when = JANUARY.end + timedelta(hours=2)
    ledger.settle("grace", timedelta(minutes=100), JANUARY.end + timedelta(hours=1))
    assert ledger.period_arrears == (inr("120.00"),)
    overage_before = ledger.totals().overage
    renew_into_february(ledger, 20_000 * 60, when)
    ledger.pull_events()
    covered = ledger.cover_late_usage(when)
    assert covered is not None
    assert (covered.seconds, covered.late_seconds) == (6000, 6000)
    assert covered.arrears_dropped == (inr("120.00"),)
    assert covered.charges_covered == covered.charges_kept == (inr("0.00"),)
    assert ledger.pull_events() == [covered]
    snapshot = ledger.snapshot(when)
    assert (snapshot.used_seconds, snapshot.remaining_seconds) == (6000, 20_000 * 60 - 6000)
    assert snapshot.overage_seconds == 0
    totals = ledger.totals()  # the records keep their overage; the plan grant covered it
    assert (totals.overage, totals.covered) == (overage_before, 6000)
    assert ledger.covered_seconds() == {"plan:1": 6000}
    assert ledger.cover_late_usage(when) is None  # a replay covers nothing more
    assert ledger.snapshot(when).used_seconds == 6000


def test_late_usage_beyond_the_plan_grant_stays_overage_with_its_share_of_the_charge() -> None:
    ledger = january_ledger(WALLET)
    record = ledger.settle("grace", timedelta(seconds=300), JANUARY.end)  # ₹7.50 over
    ledger.note_overage_paid(record, inr("5.00"))  # all the wallet held
    renew_into_february(ledger, 200, JANUARY.end)
    covered = ledger.cover_late_usage(JANUARY.end)
    assert covered is not None
    assert (covered.seconds, covered.late_seconds) == (200, 300)
    assert covered.arrears_dropped == (inr("0.00"),)
    assert covered.charges_covered == (inr("5.00"),)  # ₹7.50 × 200 / 300
    assert covered.charges_kept == (inr("2.50"),)
    assert covered.paid == (inr("5.00"),)


def test_late_usage_not_covered_by_the_next_renewal_is_forgotten_a_period_later() -> None:
    ledger = january_ledger()
    ledger.settle("grace", timedelta(seconds=60), JANUARY.end)
    renew_into_february(ledger, 600, JANUARY.end)
    ledger.open_period(MARCH, MARCH.start)
    assert ledger.cover_late_usage(MARCH.start) is None


def test_late_usage_survives_a_reload_and_old_documents_have_none() -> None:
    ledger = january_ledger(WALLET)
    record = ledger.settle("grace", timedelta(seconds=60), JANUARY.end)
    ledger.note_overage_paid(record, inr("1.50"))
    state = json.loads(json.dumps(ledger.to_state()))
    again = MinuteLedger.from_state(state)
    assert again.late_seconds == 60
    assert again.copy().late_seconds == 60
    renew_into_february(again, 600, JANUARY.end)
    reloaded = MinuteLedger.from_state(json.loads(json.dumps(again.to_state())))
    covered = reloaded.cover_late_usage(JANUARY.end)
    assert covered is not None
    assert (covered.seconds, covered.paid) == (60, (inr("1.50"),))
    del state["late_usage"]  # as written before late usage was counted
    assert "carried_late_usage" not in state
    old = MinuteLedger.from_state(state)
    assert old.late_seconds == 0
    renew_into_february(old, 600, JANUARY.end)
    assert old.cover_late_usage(JANUARY.end) is None


grace_calls = st.lists(
    st.tuples(st.integers(1, 900), st.booleans()),  # seconds, billed in arrears?
    min_size=1,
    max_size=8,
)


@given(grace_calls, st.integers(0, 600), st.integers(1, 3000))
def test_late_seconds_and_money_are_conserved_by_a_paid_renewal(
    calls: list[tuple[int, bool]], january_left: int, february_plan: int
) -> None:
    """Covered + still overage == late seconds; dropped + covered charges == their share."""
    ledger = january_ledger(plan_seconds=600)
    if 600 - january_left:
        ledger.settle("january", timedelta(seconds=600 - january_left), T0)
    charges = []
    for index, (seconds, in_arrears) in enumerate(calls):
        ledger.set_policy(ARREARS if in_arrears else WALLET)
        record = ledger.settle(f"g{index}", timedelta(seconds=seconds), JANUARY.end)
        charges.append((record.overage_seconds, record.overage_charge, in_arrears))
    late = sum(seconds for seconds, _, _ in charges)
    late_charge = sum_money((c for _, c, _ in charges if c is not None), "INR")
    late_arrears = sum_money((c for _, c, a in charges if a and c is not None), "INR")
    assert ledger.late_seconds == late
    preview = ledger.late_arrears_covered(february_plan)
    overage_before = ledger.totals().overage
    renew_into_february(ledger, february_plan, JANUARY.end)
    covered = ledger.cover_late_usage(JANUARY.end)
    assert isinstance(covered, LateUsageCovered)
    assert covered.seconds == min(february_plan, late)
    totals = ledger.totals()
    assert totals.overage == overage_before  # as the usage records have it
    still_overage = totals.overage - totals.covered - (overage_before - late)
    assert covered.seconds + still_overage == late
    assert ledger.snapshot(JANUARY.end).used_seconds == covered.seconds
    dropped, charged = total(covered.arrears_dropped), total(covered.charges_covered)
    assert dropped <= late_arrears
    assert charged + total(covered.charges_kept) == late_charge - late_arrears
    share = late_charge * covered.seconds / late
    assert abs((dropped + charged) - share) < inr("0.02")  # two splits, each within a paisa
    if covered.seconds == late:
        assert (dropped, charged) == (late_arrears, late_charge - late_arrears)
    assert total(preview) == dropped  # what the renewal's charge left out
    assert totals.granted == totals.remaining + totals.held + totals.consumed + totals.expired
    assert ledger.covered_seconds() == ({"plan:1": covered.seconds} if covered.seconds else {})


def test_a_store_s_shared_grant_terms_do_not_share_what_a_grant_covered() -> None:
    """`ParsedLedgerValues` reuses a grant's terms; how much of it covered late usage is not
    a term but a counter, read from each document."""
    ledger = january_ledger()
    when = JANUARY.end + timedelta(hours=2)
    ledger.settle("grace", timedelta(minutes=100), JANUARY.end + timedelta(hours=1))
    renew_into_february(ledger, 20_000 * 60, when)
    before = json.loads(json.dumps(ledger.to_state()))
    ledger.cover_late_usage(when)
    after = json.loads(json.dumps(ledger.to_state()))
    parsed = ParsedLedgerValues()
    assert MinuteLedger.from_state(before, parsed=parsed).covered_seconds() == {}
    decoded = MinuteLedger.from_state(after, parsed=parsed)
    assert decoded.covered_seconds() == {"plan:1": 6000}
    assert decoded.to_state() == MinuteLedger.from_state(after).to_state()
    assert MinuteLedger.from_state(before, parsed=parsed).covered_seconds() == {}
