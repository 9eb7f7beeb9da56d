"""Input checks shared by the minute ledger's operations.

Each check returns the checked (and normalised) value or raises a `ValidationError` naming the
field, so that an operation can check everything before it changes anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from minutebill.domain.periods import to_utc
from minutebill.domain.rating import MAX_CALL_SECONDS, BillingIncrement
from minutebill.domain.text import require_key, require_text
from minutebill.domain.usage import UsageRecord
from minutebill.errors import IdempotencyConflict, ValidationError

__all__ = [
    "NO_TAGS",
    "Rater",
    "labels",
    "optional_utc",
    "replay",
    "seconds",
    "started",
    "started_before_year_one",
    "text",
    "utc",
]

NO_TAGS: frozenset[str] = frozenset()
"""The tags of a call settled without any."""

_RATED_KEPT = 4096


text = require_text
"""`value` if it is a non-blank string that every store can keep (see `require_text`)."""

key = require_key
"""`text`, of at most `MAX_KEY_LENGTH` characters: an id or tag that a store indexes."""


def seconds(name: str, value: object) -> int:
    """`value` if it is a whole number of seconds above zero (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError(name, value, "must be a whole number of seconds > 0")
    return value


def labels(tags: Iterable[str]) -> frozenset[str]:
    """`tags` as a frozenset of non-blank strings (a lone string is refused, not split)."""
    if isinstance(tags, str):
        raise ValidationError("tags", tags, "an iterable of strings, not a string")
    try:
        found = frozenset(tags)
    except TypeError:
        raise ValidationError("tags", tags, "an iterable of strings") from None
    for tag in found:
        key("tags", tag)
    return found


def utc(value: datetime, name: str = "at") -> datetime:
    """`value` in UTC; refuses naive datetimes (with a fast path for values already in UTC)."""
    if value.__class__ is datetime and value.tzinfo is UTC:
        return value
    return to_utc(value, name)


class Rater:
    """Rates call durations with one `BillingIncrement`, remembering recent results.

    The same as `BillingIncrement.billable_seconds` (which stays the one place the pulse rule
    is written), made cheap for the settle hot path: a non-negative `timedelta` is rounded up
    to whole seconds with integer arithmetic, and the billable seconds of the last few thousand
    whole-second lengths are remembered. Anything else goes to the rule itself, which refuses
    what it must: only lengths the rule accepted are remembered, so one beyond
    `MAX_CALL_DURATION` is refused when it is first rated, never on the path of a known one.
    """

    __slots__ = ("_known", "hold_ttl", "holds", "rating")

    def __init__(self, rating: BillingIncrement, *, hold_ttl: timedelta) -> None:
        self.rating = rating
        self.hold_ttl = hold_ttl
        self._known: dict[int, int] = {}
        # `hold`'s memo, public so that `MinuteLedger._reserve` can ask it in line.
        self.holds: dict[int, tuple[int, timedelta]] = {}

    def billable(self, duration: timedelta) -> int:
        """The seconds a call lasting `duration` is billed for.

        Raises:
            ValidationError: if `duration` is not a timedelta, is negative or is longer than
                `MAX_CALL_DURATION`.
        """
        if duration.__class__ is timedelta and duration.days >= 0:  # normalised: never negative
            seconds = (
                duration.days * 86_400 + duration.seconds + (1 if duration.microseconds else 0)
            )
            known = self._known.get(seconds)
            if known is None:
                if seconds > MAX_CALL_SECONDS:  # refused by the rule, naming the duration
                    return self.rating.billable_seconds(duration)
                if len(self._known) >= _RATED_KEPT:
                    self._known.clear()
                known = self._known[seconds] = self.rating.billable_for_seconds(seconds)
            return known
        return self.rating.billable_seconds(duration)

    def hold(self, seconds: int) -> tuple[int, timedelta]:
        """What to hold for a call that may last `seconds`, and for how long.

        The seconds held are what such a call is billed: billing is monotone in the length,
        so a hold of the billable seconds of the call's longest length covers it however long
        it runs up to that length (a length beyond `MAX_CALL_SECONDS`, which no call lasts,
        is held as it is). The hold lasts the time-to-live, which catches missed hang-ups,
        or the call's length if that is longer (up to `MAX_CALL_SECONDS`): a call keeps its
        hold, and its slot, while it may still run. Both are remembered per length, as the
        billable seconds are: call starts ask for a few lengths over and over.
        """
        known = self.holds.get(seconds)
        if known is None:
            if seconds > MAX_CALL_SECONDS:
                held = seconds
            else:
                held = self.rating.billable_for_seconds(seconds)
            life = self.hold_ttl
            if timedelta(seconds=seconds) > life:
                life = timedelta(seconds=min(seconds, MAX_CALL_SECONDS))
            if len(self.holds) >= _RATED_KEPT:
                self.holds.clear()
            known = self.holds[seconds] = (held, life)
        return known


def started(value: datetime, at: datetime) -> datetime:
    """`value`, the start of a call settled at `at`, in UTC; refuses a start after `at`."""
    start = utc(value, "started_at")
    if start > at:
        raise ValidationError("started_at", start, f"after the settle time {at}")
    return start


def started_before_year_one(duration: timedelta, at: datetime) -> ValidationError:
    """The error for a call lasting `duration` up to `at` that would start before year 1."""
    return ValidationError("duration", duration, f"the call would start before year 1 ({at})")


def optional_utc(value: datetime | None, name: str) -> datetime | None:
    """Like `utc`, passing None through."""
    return None if value is None else to_utc(value, name)


def replay(
    prior: UsageRecord,
    account_id: str,
    call_id: str,
    duration: timedelta,
    start: datetime | None,
    tags: frozenset[str],
) -> UsageRecord:
    """`prior` if settling `call_id` again with this input repeats it.

    The same input is the same duration and tags, and the same start if one is given (a retry
    that leaves the start out matches the start that was worked out the first time).

    Raises:
        ValidationError: if `prior` is not a `UsageRecord`, or belongs to another account or
            call.
        IdempotencyConflict: if the input differs.
    """
    if not isinstance(prior, UsageRecord):
        raise ValidationError("previous", prior, "expected the call's UsageRecord")
    if prior.account_id != account_id or prior.call_id != call_id:
        raise ValidationError("previous", prior, f"not the record of call {call_id!r} here")
    if (
        prior.duration != duration
        or prior.tags != tags
        or (start is not None and start != prior.started_at)
    ):
        raise IdempotencyConflict(call_id, "the call was settled with other input")
    return prior
