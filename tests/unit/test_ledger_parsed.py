"""Ledgers decoded with the parts of earlier documents (`ParsedLedgerValues`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from attrs import evolve
from hypothesis import given
from hypothesis import strategies as st

from minutebill.domain.ledger import GrantSource, LedgerPolicy, MinuteLedger, ParsedLedgerValues
from minutebill.domain.periods import BillingPeriod
from minutebill.domain.state import State
from minutebill.errors import ValidationError
from minutebill.testing.ledger_strategies import (
    GrantTerms,
    grant_sets,
    ledger_policies,
    whole_call_seconds,
)

AT = datetime(2025, 3, 10, 12, tzinfo=UTC)
PERIOD = BillingPeriod(AT - timedelta(days=3), AT + timedelta(days=28))


def ledger_of(terms: list[GrantTerms], policy: LedgerPolicy, durations: list[int]) -> MinuteLedger:
    ledger = MinuteLedger("acct-1", policy)
    ledger.open_period(PERIOD, AT)
    for term in terms:
        term.apply(ledger, AT)
    for i, seconds in enumerate(durations):
        # A blocking plan refuses a call that no whole billed call fits in (60/60: 1 s left).
        holdable = ledger.available_seconds(AT) >= policy.rating.shortest_billed_seconds
        if i % 2 and (holdable or not policy.overage.blocks):
            ledger.reserve(f"call-{i}", max(seconds, 1), AT)
        else:
            ledger.settle(f"call-{i}", timedelta(seconds=seconds), AT)
    if terms:  # a period later: grants with nothing left are pruned (kept as tombstones)
        ledger.open_period(BillingPeriod(PERIOD.end, PERIOD.end + timedelta(days=30)), AT)
    return ledger


def document(ledger: MinuteLedger) -> State:
    state: State = json.loads(json.dumps(ledger.to_state()))
    return state


@given(
    st.lists(
        st.tuples(
            grant_sets(max_size=4),
            ledger_policies(),
            st.lists(whole_call_seconds(3600), max_size=4),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_ledgers_decoded_with_shared_parts_are_the_ledgers_decoded_alone(
    cases: list[tuple[list[GrantTerms], LedgerPolicy, list[int]]],
) -> None:
    parsed = ParsedLedgerValues()
    states = [document(ledger_of(*case)) for case in cases]
    for state in states * 2:  # the second time, every part comes from what was parsed
        alone = MinuteLedger.from_state(json.loads(json.dumps(state)))
        shared = MinuteLedger.from_state(json.loads(json.dumps(state)), parsed=parsed)
        other = MinuteLedger.from_state(json.loads(json.dumps(state)), parsed=parsed)

        assert shared.to_state() == alone.to_state() == state
        assert shared.policy == alone.policy
        assert shared.period == alone.period
        assert shared.grants() == alone.grants()
        assert alone.period is not None
        later = max(AT, alone.period.start) + timedelta(hours=1)
        # They behave alike, and two ledgers decoded from one document share nothing mutable.
        for call_id in [*sorted(alone.active_calls()), "new-call"]:
            duration = timedelta(seconds=97)
            assert shared.settle(call_id, duration, later) == alone.settle(call_id, duration, later)
        shared.grant("late-bonus", GrantSource.PROMOTIONAL, 60, later)
        alone.grant("late-bonus", GrantSource.PROMOTIONAL, 60, later)
        assert shared.pull_events() == alone.pull_events()
        assert shared.to_state() == alone.to_state()
        assert other.to_state() == state


def test_a_part_that_differs_only_in_the_type_of_a_number_is_parsed_again() -> None:
    parsed = ParsedLedgerValues()
    ledger = MinuteLedger("acct-1", LedgerPolicy(thresholds=(80, 100)))
    state = document(ledger)
    MinuteLedger.from_state(state, parsed=parsed)  # parsed once, and remembered

    state["policy"]["thresholds"] = [80.0, 100]  # equal to [80, 100], and not a level

    with pytest.raises(ValidationError) as caught:
        MinuteLedger.from_state(state, parsed=parsed)
    assert caught.value.field == "thresholds"


def test_a_malformed_part_is_refused_every_time() -> None:
    parsed = ParsedLedgerValues()
    state = document(MinuteLedger("acct-1", LedgerPolicy()))
    state["policy"]["rating"] = "sixty"
    for _ in range(2):
        with pytest.raises(ValidationError) as caught:
            MinuteLedger.from_state(state, parsed=parsed)
        assert caught.value.field == "rating"
    state["policy"]["thresholds"] = [{"level": 80}]  # cannot be a key: parsed (and refused)
    with pytest.raises(ValidationError):
        MinuteLedger.from_state(state, parsed=parsed)


def test_what_is_remembered_is_bounded() -> None:
    parsed = ParsedLedgerValues(limit=2)
    for hours in range(1, 6):
        ledger = MinuteLedger("acct-1", LedgerPolicy(hold_ttl=timedelta(hours=hours)))
        ledger.open_period(BillingPeriod(AT, AT + timedelta(days=hours)), AT)
        ledger.grant(f"g{hours}", GrantSource.PLAN, 60, AT)
        state = document(ledger)

        assert MinuteLedger.from_state(state, parsed=parsed).to_state() == state
        assert all(len(cache) <= 2 for cache in (parsed._policies, parsed._periods))
        assert len(parsed._books) <= 2


@given(ledger_policies(), st.integers(1, 10**6))
def test_a_policy_encodes_the_same_every_time_and_hands_out_fresh_data(
    policy: LedgerPolicy, seconds: int
) -> None:
    rate = policy.overage.rate_per_minute
    expected = {
        "rating": str(policy.rating),
        "overage": policy.overage.mode.value,
        "overage_rate": None
        if rate is None
        else {"amount": str(rate.amount), "currency": rate.currency},
        "thresholds": list(policy.thresholds),
        "hold_ttl_us": policy.hold_ttl // timedelta(microseconds=1),
    }
    first = policy.to_state()
    first["thresholds"].append(7)  # a caller may change what it is given
    if first["overage_rate"] is not None:
        first["overage_rate"]["amount"] = "0"

    assert policy.to_state() == expected
    assert LedgerPolicy.from_state(policy.to_state()) == policy
    longer = evolve(policy, hold_ttl=timedelta(seconds=seconds))
    assert longer.to_state() == {**expected, "hold_ttl_us": seconds * 1_000_000}
