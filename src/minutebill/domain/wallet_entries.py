"""The lines of a wallet's history, and the events that announce them.

A `WalletEntry` is immutable: a wallet changes only by appending entries, and a mistake is
undone by a reversal entry that names the entry it reverses.
"""

from __future__ import annotations

import enum
from datetime import datetime
from types import MappingProxyType

from attrs import frozen

from minutebill.domain.events import DomainEvent
from minutebill.domain.money import Money
from minutebill.domain.state import (
    State,
    instant_from_state,
    instant_to_state,
    money_from_state,
    money_to_state,
)

__all__ = ["EntryKind", "WalletCredited", "WalletDebited", "WalletEntry"]


class EntryKind(enum.Enum):
    """Which way an entry moves money."""

    CREDIT = "credit"
    """Money in: a top-up, a refund to the wallet, the reversal of a debit."""
    DEBIT = "debit"
    """Money out: a renewal, an overage charge, the reversal of a credit."""


# Enum.value is a Python-level property before Python 3.12: a lookup costs a tenth of it.
_KIND_TEXTS = MappingProxyType({kind: kind.value for kind in EntryKind})


@frozen(kw_only=True)
class WalletEntry:
    """One line of the wallet's history.

    Attributes:
        key: The idempotency key the entry was made with (unique within the wallet).
        kind: Credit (money in) or debit (money out).
        amount: The amount moved, positive and rounded, in the wallet's currency.
        at: When it was made (aware, UTC).
        reason: Why, in a word the host understands (``"top-up"``, ``"number renewal"``).
        reference: What it belongs to (a payment id, a number, a call id), if anything.
        reverses: The key of the entry this one reverses, for a reversal.
        sequence: Its position in the wallet's whole history, from 1, without gaps.
        balance_after: The balance right after it.
    """

    key: str
    kind: EntryKind
    amount: Money
    at: datetime
    reason: str
    reference: str | None = None
    reverses: str | None = None
    sequence: int
    balance_after: Money

    @property
    def signed_amount(self) -> Money:
        """The amount with its direction: positive for a credit, negative for a debit."""
        return self.amount if self.kind is EntryKind.CREDIT else -self.amount

    def to_state(self) -> State:
        """The entry as a JSON-compatible dict."""
        return {
            "key": self.key,
            "kind": _KIND_TEXTS[self.kind],
            "amount": money_to_state(self.amount),
            "at": instant_to_state(self.at),
            "reason": self.reason,
            "reference": self.reference,
            "reverses": self.reverses,
            "sequence": self.sequence,
            "balance_after": money_to_state(self.balance_after),
        }

    @classmethod
    def from_state(cls, state: State) -> WalletEntry:
        """The entry that `to_state` encoded."""
        return cls(
            key=state["key"],
            kind=EntryKind(state["kind"]),
            amount=money_from_state(state["amount"]),
            at=instant_from_state(state["at"]),
            reason=state["reason"],
            reference=state["reference"],
            reverses=state["reverses"],
            sequence=state["sequence"],
            balance_after=money_from_state(state["balance_after"]),
        )


@frozen(kw_only=True)
class _WalletEvent(DomainEvent):
    entry_key: str
    amount: Money
    balance: Money
    reason: str
    reference: str | None = None
    reverses: str | None = None


@frozen(kw_only=True)
class WalletCredited(_WalletEvent):
    """Money went into a wallet (a top-up, a refund, or the reversal of a debit).

    Attributes:
        entry_key: The entry's idempotency key.
        amount: The amount credited.
        balance: The balance afterwards.
        reason: The entry's reason.
        reference: The entry's reference, if any.
        reverses: The key of the debit this credit reverses, for a reversal.
    """


@frozen(kw_only=True)
class WalletDebited(_WalletEvent):
    """Money left a wallet (a charge, or the reversal of a credit).

    Attributes:
        entry_key: The entry's idempotency key.
        amount: The amount debited.
        balance: The balance afterwards.
        reason: The entry's reason.
        reference: The entry's reference, if any.
        reverses: The key of the credit this debit reverses, for a reversal.
    """
