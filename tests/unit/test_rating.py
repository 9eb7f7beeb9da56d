"""Rating: the seconds a call of a given length is billed for, in pulses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill import MAX_CALL_DURATION, BillingIncrement, ValidationError
from minutebill.domain.rating import MAX_CALL_SECONDS
from minutebill.testing.strategies import billing_increments, call_durations

PRESETS = {
    "60/60": BillingIncrement.PER_MINUTE,
    "60/6": BillingIncrement.SIXTY_SIX,
    "6/6": BillingIncrement.SIX_SIX,
    "1/1": BillingIncrement.PER_SECOND,
}


def whole_seconds(duration: timedelta) -> int:
    """The duration rounded up to whole seconds (a started second counts)."""
    micros = duration // timedelta(microseconds=1)
    return -(-micros // 1_000_000)


# --- properties -------------------------------------------------------------------------------


@given(billing_increments(), call_durations(), call_durations())
def test_billable_seconds_are_monotone_in_the_duration(
    rule: BillingIncrement, a: timedelta, b: timedelta
) -> None:
    shorter, longer = sorted((a, b))
    assert rule.billable_seconds(shorter) <= rule.billable_seconds(longer)


@given(billing_increments(), call_durations())
def test_never_below_the_duration_or_the_minimum(rule: BillingIncrement, d: timedelta) -> None:
    billed = rule.billable_seconds(d)
    assert billed >= whole_seconds(d)
    if d > timedelta(0):
        assert billed >= rule.minimum_seconds
        assert billed >= rule.initial_seconds
        assert billed >= 1


@given(billing_increments())
def test_a_call_that_never_connected_is_free(rule: BillingIncrement) -> None:
    assert rule.billable_seconds(timedelta(0)) == 0
    assert rule.billable_for_seconds(0) == 0


@given(billing_increments(), call_durations())
def test_above_the_initial_block_billing_is_in_whole_increments(
    rule: BillingIncrement, d: timedelta
) -> None:
    billed = rule.billable_seconds(d)
    pulses = BillingIncrement(rule.initial_seconds, rule.increment_seconds)
    unfloored = pulses.billable_seconds(d)
    if d == timedelta(0):
        assert billed == 0
    elif unfloored >= rule.minimum_seconds:
        # The minimum does not apply: the initial block plus whole increments, and never a
        # whole increment more than the call needs.
        assert billed == unfloored
        assert billed >= rule.initial_seconds
        assert (billed - rule.initial_seconds) % rule.increment_seconds == 0
        assert billed - whole_seconds(d) < max(rule.initial_seconds, rule.increment_seconds)
        if whole_seconds(d) > rule.initial_seconds:
            assert billed - whole_seconds(d) < rule.increment_seconds
    else:
        assert billed == rule.minimum_seconds


@given(billing_increments(), call_durations())
def test_rating_a_duration_rounds_it_up_to_whole_seconds_first(
    rule: BillingIncrement, d: timedelta
) -> None:
    assert rule.billable_seconds(d) == rule.billable_for_seconds(whole_seconds(d))


@given(billing_increments())
def test_the_text_form_parses_back(rule: BillingIncrement) -> None:
    assert BillingIncrement.parse(str(rule)) == rule


# --- the presets, worked ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "duration", "billed"),
    [
        ("60/60", timedelta(seconds=1), 60),
        ("60/60", timedelta(seconds=60), 60),
        ("60/60", timedelta(seconds=61), 120),
        ("60/60", timedelta(minutes=5, microseconds=1), 360),
        ("60/6", timedelta(seconds=59), 60),
        ("60/6", timedelta(seconds=61), 66),
        ("60/6", timedelta(seconds=66), 66),
        ("60/6", timedelta(seconds=67), 72),
        ("6/6", timedelta(seconds=1), 6),
        ("6/6", timedelta(seconds=7), 12),
        ("6/6", timedelta(seconds=61), 66),
        ("1/1", timedelta(milliseconds=200), 1),
        ("1/1", timedelta(seconds=61), 61),
        ("1/1", timedelta(seconds=61, microseconds=1), 62),
        ("1/1", timedelta(0), 0),
    ],
)
def test_preset_examples(preset: str, duration: timedelta, billed: int) -> None:
    assert PRESETS[preset].billable_seconds(duration) == billed


@pytest.mark.parametrize(("text", "rule"), PRESETS.items())
def test_presets_parse_from_their_text(text: str, rule: BillingIncrement) -> None:
    assert BillingIncrement.parse(text) == rule
    assert str(rule) == text


def test_parse_accepts_a_minimum_and_spaces() -> None:
    assert BillingIncrement.parse("60/6") == BillingIncrement(60, 6)
    assert BillingIncrement.parse(" 60 / 6 ") == BillingIncrement(60, 6)
    rule = BillingIncrement.parse("1/1/30")
    assert rule == BillingIncrement(1, 1, minimum_seconds=30)
    assert str(rule) == "1/1/30"


def test_a_minimum_charge_applies_to_connected_calls_only() -> None:
    rule = BillingIncrement(1, 1, minimum_seconds=30)
    assert rule.billable_seconds(timedelta(seconds=5)) == 30
    assert rule.billable_seconds(timedelta(seconds=45)) == 45
    assert rule.billable_seconds(timedelta(0)) == 0


def test_long_calls_over_days() -> None:
    assert BillingIncrement.PER_MINUTE.billable_seconds(timedelta(days=1, seconds=1)) == 86_460


# --- refused input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["60", "a/b", "60/6/6/6", "", "/", "60/", "60/²", "-1/6", "6.0/6", None, 60], ids=repr
)
def test_parse_refuses_malformed_text(text: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        BillingIncrement.parse(text)
    assert caught.value.field == "rating"
    assert caught.value.value == text


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((0, 6), "initial_seconds"),
        ((60, 0), "increment_seconds"),
        ((60, 6, -1), "minimum_seconds"),
        ((True, 6), "initial_seconds"),
        ((60.0, 6), "initial_seconds"),
        ((60, "6"), "increment_seconds"),
    ],
    ids=repr,
)
def test_bad_rules_are_refused(args: tuple[Any, ...], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BillingIncrement(*args)
    assert caught.value.field == field
    assert f"{field}=" in str(caught.value)


def test_parse_reports_the_bad_part_of_well_formed_text() -> None:
    with pytest.raises(ValidationError) as caught:
        BillingIncrement.parse("0/6")
    assert caught.value.field == "initial_seconds"


@pytest.mark.parametrize(
    "duration",
    [
        timedelta(microseconds=-1),
        5,
        5.0,
        None,
        MAX_CALL_DURATION + timedelta(microseconds=1),
        timedelta(days=999_999_999),
    ],
    ids=repr,
)
def test_bad_durations_are_refused(duration: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        BillingIncrement.PER_MINUTE.billable_seconds(duration)
    assert caught.value.field == "duration"


@pytest.mark.parametrize("seconds", [-1, 1.5, True, None, MAX_CALL_SECONDS + 1], ids=repr)
def test_bad_second_counts_are_refused(seconds: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        BillingIncrement.PER_MINUTE.billable_for_seconds(seconds)
    assert caught.value.field == "seconds"


@given(st.integers(min_value=1, max_value=10**6))
def test_negative_durations_are_always_refused(micros: int) -> None:
    with pytest.raises(ValidationError):
        BillingIncrement.PER_SECOND.billable_seconds(-timedelta(microseconds=micros))


def test_the_longest_call_is_rated() -> None:
    assert BillingIncrement.SIXTY_SIX.billable_seconds(MAX_CALL_DURATION) == MAX_CALL_SECONDS
    assert BillingIncrement.SIXTY_SIX.billable_for_seconds(MAX_CALL_SECONDS) == MAX_CALL_SECONDS


@given(billing_increments(), st.integers(0, 100_000))
def test_billed_within_is_the_billing_of_the_longest_call_that_fits(
    rule: BillingIncrement, seconds: int
) -> None:
    kept = rule.billed_within(seconds)
    assert 0 <= kept <= seconds
    fits = [rule.billable_for_seconds(n) for n in range(1, seconds + 1)]
    fits = [billed for billed in fits if billed <= seconds]
    assert kept == max(fits, default=0)
    assert rule.shortest_billed_seconds == rule.billable_for_seconds(1)


@given(billing_increments(), st.integers(0, 20_000))
def test_longest_within_is_the_longest_call_billed_no_more(
    rule: BillingIncrement, seconds: int
) -> None:
    longest = rule.longest_within(seconds)
    fits = [n for n in range(1, seconds + 1) if rule.billable_for_seconds(n) <= seconds]
    assert longest == max(fits, default=0)
    assert rule.billable_for_seconds(longest) == rule.billed_within(seconds)


def test_under_a_minimum_off_the_grid_the_longest_call_is_shorter_than_its_billing() -> None:
    rule = BillingIncrement(60, 60, minimum_seconds=90)
    assert (rule.longest_within(100), rule.billed_within(100)) == (60, 90)
