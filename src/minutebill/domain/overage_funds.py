"""Wallet money a call may run on once its minutes are used (charge-the-wallet overage).

Under charge-the-wallet a call that outlasts its minutes is paid from the prepaid wallet as it
ends. A prepaid platform cuts such a call off when the balance is spent, and two calls must
not both count on the same money: so a call that starts without minutes enough for its whole
length is capped at what its minutes and the wallet's money pay for, and that money is kept
for it while it runs (`Reservation.max_seconds`, `Reservation.funds`). The wallet is not
touched until the call settles; what other calls may count on is the balance less what live
holds keep (`MinuteLedger.earmarked`). A renewal may still take the wallet's money meanwhile:
the call then pays what is left, as before.
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import frozen

from minutebill.domain.money import Money
from minutebill.domain.rating import BillingIncrement

__all__ = ["OverageFunds", "funded_length"]


@frozen
class OverageFunds:
    """What a call may spend on overage, asked only when its minutes do not cover it.

    Attributes:
        available: The wallet money no live call keeps (tax included), asked once.
        price: What `seconds` billed seconds of overage cost from the wallet, tax included;
            None or zero for nothing.
    """

    available: Callable[[], Money]
    price: Callable[[int], Money | None]


def funded_length(
    rating: BillingIncrement, held: int, requested: int, funds: OverageFunds
) -> tuple[int, Money | None]:
    """The longest call up to `requested` seconds that `held` seconds and the funds pay for.

    A call of length ``L`` is billed ``rating.billable_for_seconds(L)``; the seconds beyond
    `held` are overage, priced by `funds.price`. Its cost only grows with ``L``, so the
    longest affordable length is found by bisection.

    Returns:
        That length (0: not even the shortest call), and what its overage costs (None for
        nothing) — the money to keep for the call.
    """

    def cost(length: int) -> Money | None:
        over = rating.billable_for_seconds(length) - held if length else 0
        charge = funds.price(over) if over > 0 else None
        return charge or None

    last = cost(requested)
    if last is None:  # overage costs nothing, or the minutes cover the whole call
        return requested, None
    available = funds.available()
    if last <= available:
        return requested, last
    low, high = 0, requested - 1  # the longest affordable length is in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        charge = cost(middle)
        if charge is None or charge <= available:
            low = middle
        else:
            high = middle - 1
    return low, cost(low)
