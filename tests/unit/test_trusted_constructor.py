"""`trusted_constructor`: hot paths build frozen values fast, and only where that is safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill.domain.ledger import MinutesReserved
from minutebill.domain.usage import GrantDebit, Reservation, trusted_constructor

AT = datetime(2026, 1, 1, tzinfo=UTC)
HOLD = ("c1", 60, 90, AT, AT + timedelta(hours=1), (GrantDebit("plan", 60),), 90, None)
new_hold = trusted_constructor(
    Reservation, "call_id", "seconds", "requested", "at", "expires_at", "debits", "cap", "funds"
)


def test_a_value_built_fast_is_the_value_init_builds() -> None:
    built = new_hold(*HOLD)
    assert type(built) is Reservation
    assert built == Reservation(*HOLD)
    assert hash(built) == hash(Reservation(*HOLD))
    assert repr(built) == repr(Reservation(*HOLD))


def test_a_value_built_fast_is_frozen() -> None:
    built = new_hold(*HOLD)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.seconds = 0  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del built.seconds
    assert built.seconds == 60


def test_fields_of_a_base_class_are_set_too() -> None:
    """Events keep `account_id` and `occurred_at` in their base class's slots."""
    new_event = trusted_constructor(MinutesReserved, "account_id", "occurred_at", "reservation")
    hold = Reservation(*HOLD)
    built = new_event("acme", AT, hold)
    assert type(built) is MinutesReserved
    assert built == MinutesReserved(account_id="acme", occurred_at=AT, reservation=hold)


@given(st.text(min_size=1), st.integers())
def test_any_values_build_the_same_value_as_init(grant_id: str, seconds: int) -> None:
    built = trusted_constructor(GrantDebit, "grant_id", "seconds")(grant_id, seconds)
    assert type(built) is GrantDebit
    assert built == GrantDebit(grant_id, seconds)
    assert (built.grant_id, built.seconds) == (grant_id, seconds)


def test_every_field_must_be_named_in_order() -> None:
    with pytest.raises(TypeError, match="Reservation"):
        trusted_constructor(Reservation, "call_id", "seconds")  # a field left unset
    with pytest.raises(TypeError, match="GrantDebit"):
        trusted_constructor(GrantDebit, "seconds", "grant_id")  # out of order


@attrs.frozen
class _Checked:
    seconds: int = attrs.field(validator=attrs.validators.gt(0))


@attrs.frozen
class _Converted:
    seconds: int = attrs.field(converter=int)


@attrs.frozen
class _PostInit:
    seconds: int

    def __attrs_post_init__(self) -> None:
        """Nothing: its presence alone must refuse the class."""


@attrs.frozen(cache_hash=True)
class _CachedHash:
    seconds: int


@attrs.frozen(slots=False)
class _NoSlots:
    seconds: int


@pytest.mark.parametrize("cls", [_Checked, _Converted, _PostInit, _CachedHash, _NoSlots])
def test_a_class_whose_init_does_more_than_set_slots_is_refused(cls: type) -> None:
    with pytest.raises(TypeError, match=cls.__name__):
        trusted_constructor(cls, "seconds")
