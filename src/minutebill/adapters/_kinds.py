"""The aggregate kinds minutebill's own stores keep, and how each is identified and indexed."""

from __future__ import annotations

from typing import Any

from minutebill.adapters._documents import AggregateKind, Kinds
from minutebill.domain.ledger import MinuteLedger, UsageRecord
from minutebill.domain.state import State
from minutebill.domain.wallet import Wallet

__all__ = ["Kinds", "default_kinds"]


def _pending(name: str) -> AggregateKind[Any]:
    def refuse(state: State) -> Any:
        raise NotImplementedError(name)

    return AggregateKind(name, refuse, lambda a: (a.account_id, ""))


def default_kinds() -> Kinds:
    """The aggregates of minutebill: ledgers, wallets, subscriptions, numbers, orders, payments."""
    return Kinds(
        ledgers=AggregateKind(
            "ledger",
            MinuteLedger.from_state,
            lambda x: (x.account_id, ""),
            due_at=MinuteLedger.due_at,
        ),
        wallets=AggregateKind("wallet", Wallet.from_state, lambda x: (x.account_id, "")),
        subscriptions=_pending("subscription"),
        numbers=_pending("number"),
        orders=_pending("order"),
        payments=_pending("payment"),
        usage_record=UsageRecord.from_state,
    )
