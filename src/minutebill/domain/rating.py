"""Rating: how many seconds a call of a given length is billed for.

Telephony bills in pulses. ``60/60`` bills every started minute; ``60/6`` bills the first
minute whole, then six-second pulses; ``1/1`` bills by the second. A minimum charge may apply
to every connected call. Durations are `timedelta`s; a call of any positive length is billed at
least one second, and a call that never connected (zero length) is billed nothing. No call is
rated beyond `MAX_CALL_DURATION`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from attrs import frozen

from minutebill.errors import ValidationError

__all__ = ["MAX_CALL_DURATION", "MAX_CALL_SECONDS", "BillingIncrement"]

_MICROS = 1_000_000

MAX_CALL_DURATION = timedelta(days=31)
"""The longest call rated: as long as the longest month, far beyond any real call.

A longer duration is a mistake (milliseconds passed as seconds, a corrupt call detail record)
and is refused with a `ValidationError` naming it, before anything changes. The bound also
keeps what follows from a duration in range: the start of a call ending now (``at -
duration``) and the price of its overage."""

MAX_CALL_SECONDS = MAX_CALL_DURATION // timedelta(seconds=1)
"""`MAX_CALL_DURATION` in whole seconds (2,678,400)."""

_MAX_CALL_MICROS = MAX_CALL_SECONDS * _MICROS


def _positive_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(name, value, f"must be an int >= {minimum}")


@frozen
class BillingIncrement:
    """A pulse rule: an initial block, then increments, with an optional minimum.

    Attributes:
        initial_seconds: The first block; any connected call is billed at least this.
        increment_seconds: Each further block after the initial one.
        minimum_seconds: A floor on every connected call's billable seconds.

    Guarantees, for any duration: billable seconds are monotone in the duration, never below
    the (whole-second) duration, never below the minimum for a connected call, and above the
    initial block they are the initial block plus a multiple of the increment.
    """

    initial_seconds: int
    increment_seconds: int
    minimum_seconds: int = 0

    PER_MINUTE: ClassVar[BillingIncrement]
    SIXTY_SIX: ClassVar[BillingIncrement]
    SIX_SIX: ClassVar[BillingIncrement]
    PER_SECOND: ClassVar[BillingIncrement]

    def __attrs_post_init__(self) -> None:
        _positive_int("initial_seconds", self.initial_seconds, 1)
        _positive_int("increment_seconds", self.increment_seconds, 1)
        _positive_int("minimum_seconds", self.minimum_seconds, 0)

    @classmethod
    def parse(cls, text: str) -> BillingIncrement:
        """Parse ``"60/6"`` or ``"60/6/60"`` (initial/increment[/minimum]).

        Raises:
            ValidationError: if the text is not two or three whole numbers separated by ``/``.
        """
        preset = _PRESETS.get(text) if text.__class__ is str else None
        if preset is not None:  # every ledger document names its rating: the common ones
            return preset
        parts = [p.strip() for p in text.split("/")] if isinstance(text, str) else []
        # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
        if len(parts) not in (2, 3) or not all(p.isascii() and p.isdigit() for p in parts):
            raise ValidationError("rating", text, "expected 'initial/increment[/minimum]'")
        return cls(*(int(p) for p in parts))

    def __str__(self) -> str:
        base = f"{self.initial_seconds}/{self.increment_seconds}"
        return f"{base}/{self.minimum_seconds}" if self.minimum_seconds else base

    @property
    def shortest_billed_seconds(self) -> int:
        """What the shortest call is billed: no call is billed fewer seconds (60/6: 60)."""
        return max(self.initial_seconds, self.minimum_seconds)

    def billed_within(self, seconds: int) -> int:
        """The billing of the longest call billed at most `seconds`; 0 if none is.

        What a partial hold of `seconds` keeps so that a call running to its cap is paid
        from it: on 60/6, 90 s keep 90 and 30 s keep nothing (the shortest call is billed 60).
        """
        initial, step = self.initial_seconds, self.increment_seconds
        if seconds < self.shortest_billed_seconds:
            return 0
        return max(initial + (seconds - initial) // step * step, self.minimum_seconds)

    def longest_within(self, seconds: int) -> int:
        """The length of the longest call billed at most `seconds`; 0 if none is.

        The last point of the billing grid (`initial_seconds`, then every
        `increment_seconds`) within `seconds`, once they reach the shortest billing: a call
        that long is billed `billed_within(seconds)`. The two differ only under a minimum off
        the grid: on 60/60 with a 90-second minimum, 100 s bill a call of 60 s (billed 90).
        """
        if seconds < self.shortest_billed_seconds:
            return 0
        initial = self.initial_seconds
        return initial + (seconds - initial) // self.increment_seconds * self.increment_seconds

    def billable_seconds(self, duration: timedelta) -> int:
        """The seconds a call lasting `duration` is billed for.

        Raises:
            ValidationError: if `duration` is not a timedelta, is negative or is longer than
                `MAX_CALL_DURATION`.
        """
        if not isinstance(duration, timedelta):
            raise ValidationError("duration", duration, "expected a timedelta")
        micros = (duration.days * 86_400 + duration.seconds) * _MICROS + duration.microseconds
        if micros < 0:
            raise ValidationError("duration", duration, "a call cannot last a negative time")
        if micros > _MAX_CALL_MICROS:
            raise ValidationError(
                "duration",
                duration,
                f"longer than the longest call ({MAX_CALL_DURATION.days} days)",
            )
        return self.billable_for_seconds(-(-micros // _MICROS))

    def billable_for_seconds(self, seconds: int) -> int:
        """Like `billable_seconds` for a whole number of seconds (already rounded up).

        Raises:
            ValidationError: if `seconds` is not an int, is negative or is more than
                `MAX_CALL_SECONDS`.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise ValidationError("seconds", seconds, "expected a whole number of seconds")
        if seconds <= 0:
            if seconds < 0:
                raise ValidationError("seconds", seconds, "a call cannot last a negative time")
            return 0
        if seconds > MAX_CALL_SECONDS:
            raise ValidationError(
                "seconds", seconds, f"longer than the longest call ({MAX_CALL_SECONDS:,} s)"
            )
        initial, step = self.initial_seconds, self.increment_seconds
        if seconds <= initial:
            billed = initial
        else:
            billed = initial + -(-(seconds - initial) // step) * step
        return max(billed, self.minimum_seconds)


BillingIncrement.PER_MINUTE = BillingIncrement(60, 60)
BillingIncrement.SIXTY_SIX = BillingIncrement(60, 6)
BillingIncrement.SIX_SIX = BillingIncrement(6, 6)
BillingIncrement.PER_SECOND = BillingIncrement(1, 1)

_PRESETS: dict[str, BillingIncrement] = {
    str(preset): preset
    for preset in (
        BillingIncrement.PER_MINUTE,
        BillingIncrement.SIXTY_SIX,
        BillingIncrement.SIX_SIX,
        BillingIncrement.PER_SECOND,
    )
}
"""The presets by their text: parsing one returns it (values are immutable, so sharing is safe)."""
