"""`slot_setters`: hot paths build frozen values from their slots, and only where that is safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from minutebill.domain.usage import GrantDebit, Reservation, slot_setters


def test_a_value_built_from_its_slots_equals_the_one_init_builds() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    debits = (GrantDebit("plan", 60),)
    names = ("call_id", "seconds", "requested", "at", "expires_at", "debits")
    values = ("c1", 60, 90, at, at + timedelta(hours=1), debits)
    built = object.__new__(Reservation)
    for setter, value in zip(slot_setters(Reservation, *names), values, strict=True):
        setter(built, value)
    assert built == Reservation(*values)
    assert hash(built) == hash(Reservation(*values))


def test_every_field_must_be_named_in_order() -> None:
    with pytest.raises(TypeError, match="Reservation"):
        slot_setters(Reservation, "call_id", "seconds")  # a field left unset
    with pytest.raises(TypeError, match="GrantDebit"):
        slot_setters(GrantDebit, "seconds", "grant_id")  # out of order


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
        slot_setters(cls, "seconds")
