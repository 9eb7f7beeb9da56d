"""Event payloads: the events encoded field by field give what the generic rules give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from minutebill._serialization import event_payload, payload_fields, plain
from minutebill.domain.events import DomainEvent
from minutebill.domain.money import Money
from minutebill.domain.number_events import NumberReactivated, NumberRenewed
from minutebill.domain.wallet_entries import WalletCredited, WalletDebited
from minutebill.testing.strategies import currencies

texts = st.text(max_size=20)
# Instants in UTC and in fixed offsets (the payload writes them in UTC).
instants = st.datetimes(
    min_value=datetime(1, 1, 2),  # noqa: DTZ001 - the bounds of a strategy given zones
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.just(UTC)
    | st.builds(timezone, st.timedeltas(timedelta(hours=-23), timedelta(hours=23))),
)
amounts = st.builds(
    Money,
    st.decimals(Decimal(-(10**12)), Decimal(10**12), allow_nan=False, places=4),
    currencies(),
)


def _number_paid(event_type: type[NumberRenewed | NumberReactivated]) -> st.SearchStrategy[Any]:
    return st.builds(
        event_type,
        account_id=texts,
        occurred_at=instants,
        number=texts,
        period_index=st.integers(0, 10**6),
        paid_through=instants,
        amount=amounts,
        paid=amounts,
    )


def _wallet_entry(event_type: type[WalletCredited | WalletDebited]) -> st.SearchStrategy[Any]:
    return st.builds(
        event_type,
        account_id=texts,
        occurred_at=instants,
        entry_key=texts,
        amount=amounts,
        balance=amounts,
        reason=texts,
        reference=st.none() | texts,
        reverses=st.none() | texts,
    )


hot_events = st.one_of(
    _number_paid(NumberRenewed),
    _number_paid(NumberReactivated),
    _wallet_entry(WalletCredited),
    _wallet_entry(WalletDebited),
)


@given(hot_events)
def test_a_renewal_s_events_are_encoded_as_the_generic_rules_encode_them(
    event: DomainEvent,
) -> None:
    generic = {name: plain(getattr(event, name)) for name in payload_fields(type(event))}

    payload = event_payload(event)

    assert payload == generic
    assert list(payload) == list(generic)  # the same keys in the same order: the same text
