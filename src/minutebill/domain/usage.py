"""What calls take from the ledger: holds (`Reservation`) and settled usage (`UsageRecord`).

Both name, debit by debit, the grants their seconds came from, so "which minutes did this call
use" is always answerable. A `UsageRecord` is the per-call line of the usage history; stores
keep it in a table of its own (it is never part of the ledger's document), which is why it
encodes itself with `to_state` / `from_state`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from attrs import AttrsInstance, fields, frozen

from minutebill.domain.money import Money
from minutebill.domain.state import (
    State,
    instant_from_state,
    instant_to_state,
    money_from_state,
    money_to_state,
)

__all__ = [
    "GrantDebit",
    "Reservation",
    "UsageRecord",
    "debits_from_state",
    "debits_to_state",
    "trusted_constructor",
]

_MICROSECOND = timedelta(microseconds=1)
_T = TypeVar("_T", bound=AttrsInstance)


def trusted_constructor(cls: type[_T], *names: str) -> Callable[..., _T]:
    """A positional constructor of the frozen attrs class `cls`, for values already checked.

    Hot paths build values with it instead of the attrs ``__init__``, which sets each field
    through ``object.__setattr__`` (a name lookup per field). It makes the instance as a
    private subclass of `cls` that adds no slot and undoes the frozen ``__setattr__`` and
    ``__delattr__``, sets each field with a plain attribute store, and then gives the instance
    its class `cls` (CPython allows that between classes of one layout): the caller gets a
    frozen `cls`, equal to one its ``__init__`` builds, in about a third of the time (half the
    time of calling each slot's setter).

    Only for arguments the caller has already checked, so only for classes without
    validators, converters or ``__attrs_post_init__``; listing the names makes a field added
    later fail here, at import, instead of going unset.

    Raises:
        TypeError: if `cls` does not qualify or `names` are not its fields in order.
    """
    attributes = fields(cls)
    slots = {s for k in cls.__mro__ for s in vars(k).get("__slots__", ())} - {"__weakref__"}
    if (
        names != tuple(a.name for a in attributes)
        or slots != set(names)  # no other slot (a cached hash, say) that __init__ would set
        or hasattr(cls, "__attrs_pre_init__")
        or hasattr(cls, "__attrs_post_init__")
        or any(a.validator is not None or a.converter is not None for a in attributes)
        or not all(name.isidentifier() for name in names)
        or {"self", "cls", "building"} & set(names)  # the names the source uses
    ):
        raise TypeError(f"{cls.__name__} cannot be built from the slots {names}")
    # Instances are made as this subclass, whose stores are plain, then given the class `cls`.
    building = type(
        f"_Building{cls.__name__}",
        (cls,),
        {
            "__slots__": (),
            # Both, or CPython routes every store through a Python-level lookup.
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            # Calling the class then allocates without `object.__new__`'s safety walk.
            "__init__": object.__init__,
        },
    )
    # The constructor's source, as attrs and dataclasses write theirs: names checked above.
    stores = "".join(f"    self.{name} = {name}\n" for name in names)
    source = (
        f"def new_{cls.__name__}({', '.join(names)}):\n"
        f"    self = building()\n{stores}    self.__class__ = cls\n    return self\n"
    )
    namespace: dict[str, Any] = {"building": building, "cls": cls}
    exec(source, namespace)  # noqa: S102 - the text is built from field names only
    return cast("Callable[..., _T]", namespace[f"new_{cls.__name__}"])


@frozen
class GrantDebit:
    """Seconds taken from one grant.

    Attributes:
        grant_id: The grant the seconds came from.
        seconds: How many (> 0).
    """

    grant_id: str
    seconds: int


def debits_to_state(debits: Iterable[GrantDebit]) -> list[list[str | int]]:
    """Debits as ``[[grant_id, seconds], ...]``."""
    return [[d.grant_id, d.seconds] for d in debits]


def debits_from_state(state: Iterable[list[str | int]]) -> tuple[GrantDebit, ...]:
    """The debits that `debits_to_state` encoded."""
    return tuple(GrantDebit(str(grant_id), int(seconds)) for grant_id, seconds in state)


@frozen
class Reservation:
    """Seconds held for a call in progress (the first phase of two-phase use).

    A hold caps how long the call may run on the account's minutes: `max_seconds`. It holds
    what a call of the requested length is billed, so `seconds` may exceed `requested` by
    up to one billing increment (60/60 holds 60 s for a call capped at 10 s). When fewer
    seconds were available than requested the hold is *partial* (``seconds < requested``)
    and says so; under an overage policy that does not block, a hold may even be of zero
    seconds, and the call runs on overage: billed in arrears, as long as asked; charged to
    the wallet, as long as the wallet's money pays for, which the hold keeps for it
    (`funds`; see `minutebill.domain.overage_funds`).

    Attributes:
        call_id: The call the seconds are held for.
        seconds: Seconds actually held (the sum of `debits`).
        requested: The call's maximum length that was asked for, in seconds.
        at: When the hold was placed.
        expires_at: When an unsettled hold lapses and its seconds return to their grants.
        debits: The grants the held seconds came from, in consumption order.
        cap: How long a partial hold's call may run on overage (`max_seconds`); None when
            it runs on its minutes alone.
        funds: Wallet money (tax included) kept for the call's overage under
            charge-the-wallet, which no other call may count on; None for none.
    """

    call_id: str
    seconds: int
    requested: int
    at: datetime
    expires_at: datetime
    debits: tuple[GrantDebit, ...]
    cap: int | None = None
    funds: Money | None = None

    @property
    def partial(self) -> bool:
        """Whether fewer seconds were held than requested."""
        return self.seconds < self.requested

    @property
    def max_seconds(self) -> int:
        """How long the call may run: `requested`, or less if the hold is partial.

        A partial hold's call runs on its seconds, or on overage up to `cap`. Tell the switch
        to hang up after this many seconds.
        """
        cap = self.cap
        return min(self.seconds, self.requested) if cap is None else cap

    def to_state(self) -> State:
        """The hold as JSON-compatible data (a cap and funds only when there are any)."""
        state: State = {
            "call_id": self.call_id,
            "seconds": self.seconds,
            "requested": self.requested,
            "at": instant_to_state(self.at),
            "expires_at": instant_to_state(self.expires_at),
            "debits": debits_to_state(self.debits),
        }
        if self.cap is not None:
            state["cap"] = self.cap
        if self.funds is not None:
            state["funds"] = money_to_state(self.funds)
        return state

    @classmethod
    def from_state(cls, state: State) -> Reservation:
        """The hold that `to_state` encoded."""
        return cls(
            call_id=state["call_id"],
            seconds=state["seconds"],
            requested=state["requested"],
            at=instant_from_state(state["at"]),
            expires_at=instant_from_state(state["expires_at"]),
            debits=debits_from_state(state["debits"]),
            cap=state.get("cap"),
            funds=None if "funds" not in state else money_from_state(state["funds"]),
        )


@frozen
class UsageRecord:
    """One settled call: how long it lasted, what it was billed, and where the seconds came from.

    ``billable_seconds == sum(d.seconds for d in debits) + overage_seconds`` always holds:
    seconds no grant covered are overage, never dropped.

    Attributes:
        account_id: The account the call was billed to.
        call_id: The call (unique per account; a call settles once).
        started_at: When the call started (the hold's time, or the time given, or
            ``settled_at - duration``).
        settled_at: When the call was settled.
        duration: How long the call lasted.
        billable_seconds: The duration rated with the plan's billing increment.
        debits: Seconds taken from each grant, in consumption order.
        overage_seconds: Billable seconds no grant covered.
        overage_charge: The overage policy's charge for them; None when there is no overage
            or the policy blocks (block records overage but prices nothing).
        tags: The caller's labels (campaign, agent, direction, ...), for usage reports.
        held_seconds: Seconds that were held for the call when it settled (0 without a hold).
    """

    account_id: str
    call_id: str
    started_at: datetime
    settled_at: datetime
    duration: timedelta
    billable_seconds: int
    debits: tuple[GrantDebit, ...]
    overage_seconds: int
    overage_charge: Money | None
    tags: frozenset[str]
    held_seconds: int = 0

    @property
    def debited_seconds(self) -> int:
        """Seconds taken from grants (billable minus overage)."""
        return sum(d.seconds for d in self.debits)

    def to_state(self) -> State:
        """The record as JSON-compatible data (the duration in whole microseconds)."""
        return {
            "account_id": self.account_id,
            "call_id": self.call_id,
            "started_at": instant_to_state(self.started_at),
            "settled_at": instant_to_state(self.settled_at),
            "duration_us": self.duration // _MICROSECOND,
            "billable_seconds": self.billable_seconds,
            "debits": debits_to_state(self.debits),
            "overage_seconds": self.overage_seconds,
            "overage_charge": (
                None if self.overage_charge is None else money_to_state(self.overage_charge)
            ),
            "tags": sorted(self.tags),
            "held_seconds": self.held_seconds,
        }

    @classmethod
    def from_state(cls, state: State) -> UsageRecord:
        """The record that `to_state` encoded."""
        charge = state["overage_charge"]
        return cls(
            account_id=state["account_id"],
            call_id=state["call_id"],
            started_at=instant_from_state(state["started_at"]),
            settled_at=instant_from_state(state["settled_at"]),
            duration=timedelta(microseconds=state["duration_us"]),
            billable_seconds=state["billable_seconds"],
            debits=debits_from_state(state["debits"]),
            overage_seconds=state["overage_seconds"],
            overage_charge=None if charge is None else money_from_state(charge),
            tags=frozenset(state["tags"]),
            held_seconds=state.get("held_seconds", 0),
        )
