"""The prepaid wallet: a money balance in one currency that never goes negative.

Every change is an entry with an idempotency key: a retry with the same key and the same input
returns the entry already made and changes nothing; the same key with different input raises
`IdempotencyConflict`. A mistake is undone by a **reversal**, a new entry in the opposite
direction that names the entry it reverses, never by editing history. So at every moment
``balance == credited - debited``, where reversals count on the side they move money to.

A top-up is credited only after its payment **succeeded**: the wallet has no notion of a
pending payment, and the payment layer calls `Wallet.credit` when (and only when) the gateway
confirms the money arrived, keyed by the payment, so a duplicated webhook cannot credit twice.

The wallet keeps its most recent `Wallet.history_limit` entries (default
`DEFAULT_HISTORY_LIMIT`) so that the saved document stays small; running totals keep the
balance identity checkable after older entries are dropped, and every entry is also published
as a `WalletCredited` / `WalletDebited` event, which is the complete, durable history. Keys are
recognised while their entry is in the window; the payment and renewal keys that reach the
wallet are also deduplicated upstream (a payment is fulfilled once per payment id).

A loaded wallet keeps its entries as the plain data it was loaded from and turns one into a
`WalletEntry` only when it is read: a debit touches the newest entry only, so loading a wallet
with a hundred entries and saving it again does not rebuild and re-encode all of them.
"""

from __future__ import annotations

from datetime import datetime

from attrs import define, field

from minutebill.domain.events import DomainEvent, EventBuffer
from minutebill.domain.money import Money
from minutebill.domain.periods import to_utc
from minutebill.domain.state import State, money_from_state, money_to_state
from minutebill.domain.text import require_key
from minutebill.domain.usage import trusted_constructor
from minutebill.domain.wallet_entries import EntryKind, WalletCredited, WalletDebited, WalletEntry
from minutebill.errors import (
    CurrencyMismatch,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidTransition,
    NotFound,
    ValidationError,
)

__all__ = ["DEFAULT_HISTORY_LIMIT", "Wallet"]

DEFAULT_HISTORY_LIMIT = 100
"""Entries a wallet keeps in its saved document (older ones live on as events)."""

_new = object.__new__
_new_entry = trusted_constructor(
    WalletEntry,
    "key",
    "kind",
    "amount",
    "at",
    "reason",
    "reference",
    "reverses",
    "sequence",
    "balance_after",
)
_EVENT_FIELDS = (
    "account_id",
    "occurred_at",
    "entry_key",
    "amount",
    "balance",
    "reason",
    "reference",
    "reverses",
)
_new_credited = trusted_constructor(WalletCredited, *_EVENT_FIELDS)
_new_debited = trusted_constructor(WalletDebited, *_EVENT_FIELDS)


def _require_key(name: str, value: object, *, optional: bool = False) -> None:
    """Keys, reasons and references: text of at most `MAX_KEY_LENGTH` characters, like ids."""
    if optional and value is None:
        return
    require_key(name, value)


@define
class Wallet:
    """A prepaid balance in one currency; the only way to change it is an entry.

    Create an empty wallet with ``Wallet(account_id, currency)``; load a saved one with
    `from_state`. Every operation validates everything first: a refused operation raises and
    changes nothing, records no event.

    Attributes:
        account_id: The account the wallet belongs to.
        currency: The one ISO 4217 currency it holds.
        version: The store's version of this aggregate (the store bumps it on save).
        history_limit: How many recent entries the wallet keeps (and recognises keys of).
    """

    account_id: str
    currency: str
    version: int = 0
    history_limit: int = DEFAULT_HISTORY_LIMIT
    _credited: Money = field(init=False)
    _debited: Money = field(init=False)
    _sequence: int = field(init=False, default=0)
    # The retained entries, oldest first, as `WalletEntry.to_state()` data owned by the wallet
    # (copied in and out, never changed once appended, so copies of the wallet may share it);
    # the rest is derived from them.
    _states: list[State] = field(init=False, factory=list)
    _by_key: dict[str, State] = field(init=False, factory=dict, eq=False, repr=False)
    _parsed: dict[int, WalletEntry] = field(init=False, factory=dict, eq=False, repr=False)
    _reversed: set[str] = field(init=False, factory=set, eq=False, repr=False)
    _balance: Money = field(init=False, eq=False, repr=False)
    _events: EventBuffer = field(init=False, factory=EventBuffer)

    def __attrs_post_init__(self) -> None:
        _require_key("account_id", self.account_id)
        zero = Money.zero(self.currency)
        for name in ("version", "history_limit"):
            value = getattr(self, name)
            minimum = 0 if name == "version" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValidationError(name, value, f"must be an int >= {minimum}")
        self._credited = zero
        self._debited = zero
        self._balance = zero

    # --- reading ----------------------------------------------------------------------------

    @property
    def balance(self) -> Money:
        """What the wallet holds now; never negative."""
        return self._balance

    @property
    def credited(self) -> Money:
        """Everything ever credited, reversals of debits included."""
        return self._credited

    @property
    def debited(self) -> Money:
        """Everything ever debited, reversals of credits included."""
        return self._debited

    @property
    def sequence(self) -> int:
        """How many entries the wallet has ever made (the last entry's `sequence`)."""
        return self._sequence

    @property
    def entries(self) -> tuple[WalletEntry, ...]:
        """The retained history, oldest first (at most `history_limit` entries)."""
        return tuple(self._entry(state) for state in self._states)

    def entry(self, key: str) -> WalletEntry | None:
        """The retained entry made with `key`, if any."""
        state = self._by_key.get(key)
        return None if state is None else self._entry(state)

    def can_cover(self, amount: Money) -> bool:
        """Whether a debit of `amount` would go through now.

        Raises:
            CurrencyMismatch: if `amount` is in another currency.
        """
        return self.balance >= amount

    def pull_events(self) -> list[DomainEvent]:
        """The events recorded since the last pull (`WalletCredited`, `WalletDebited`)."""
        return self._events.pull()

    # --- changing ---------------------------------------------------------------------------

    def credit(
        self,
        amount: Money,
        key: str,
        at: datetime,
        *,
        reason: str = "top-up",
        reference: str | None = None,
    ) -> WalletEntry:
        """Add `amount`; call it only for money that has actually arrived.

        Args:
            amount: Positive, rounded, in the wallet's currency.
            key: Idempotency key, e.g. ``"payment:<id>"`` for a top-up.
            at: When (aware).
            reason: Why, shown in the history.
            reference: What the credit belongs to, if anything.

        Returns:
            The new entry, or the earlier one if `key` was already used with the same input.

        Raises:
            ValidationError: for a bad amount, key, reason or naive time.
            CurrencyMismatch: for an amount in another currency.
            IdempotencyConflict: if `key` was used with different input.
        """
        at = self._check(amount, key, at, reason, reference)
        return self._enter(
            EntryKind.CREDIT, amount=amount, key=key, at=at, reason=reason, reference=reference
        )

    def debit(
        self,
        amount: Money,
        key: str,
        at: datetime,
        *,
        reason: str = "charge",
        reference: str | None = None,
    ) -> WalletEntry:
        """Take `amount` out, if the balance covers it.

        Args:
            amount: Positive, rounded, in the wallet's currency.
            key: Idempotency key, e.g. the renewal key of a number period.
            at: When (aware).
            reason: Why, shown in the history.
            reference: What the debit pays for, if anything.

        Returns:
            The new entry, or the earlier one if `key` was already used with the same input.

        Raises:
            ValidationError: for a bad amount, key, reason or naive time.
            CurrencyMismatch: for an amount in another currency.
            IdempotencyConflict: if `key` was used with different input.
            InsufficientFunds: if the balance is smaller than `amount` (naming both).
        """
        at = self._check(amount, key, at, reason, reference)
        return self._enter(
            EntryKind.DEBIT, amount=amount, key=key, at=at, reason=reason, reference=reference
        )

    def reverse(
        self, entry_key: str, key: str, at: datetime, *, reason: str = "reversal"
    ) -> WalletEntry:
        """Undo the entry made with `entry_key` by a new entry in the opposite direction.

        Args:
            entry_key: The key of the credit or debit to reverse (still in the history window).
            key: Idempotency key of the reversal.
            at: When (aware).
            reason: Why, shown in the history.

        Returns:
            The reversal entry (the earlier one on a retry with the same input).

        Raises:
            NotFound: if no retained entry has `entry_key`.
            InvalidTransition: if that entry is a reversal itself or was already reversed.
            IdempotencyConflict: if `key` was used with different input.
            InsufficientFunds: reversing a credit whose money has already been spent.
        """
        _require_key("entry_key", entry_key)
        _require_key("key", key)
        _require_key("reason", reason)
        at = to_utc(at)
        earlier = self.entry(key)
        if earlier is not None:
            if earlier.reverses == entry_key and earlier.reason == reason:
                return earlier
            raise IdempotencyConflict(key, f"wallet entry {earlier.kind.value} {earlier.amount}")
        target = self.entry(entry_key)
        if target is None:
            raise NotFound("wallet entry", entry_key)
        if target.reverses is not None:
            raise InvalidTransition(f"wallet entry {entry_key!r}", "a reversal", "reverse")
        if entry_key in self._reversed:
            raise InvalidTransition(f"wallet entry {entry_key!r}", "already reversed", "reverse")
        kind = EntryKind.DEBIT if target.kind is EntryKind.CREDIT else EntryKind.CREDIT
        return self._enter(
            kind,
            amount=target.amount,
            key=key,
            at=at,
            reason=reason,
            reference=target.reference,
            reverses=entry_key,
        )

    # --- internals --------------------------------------------------------------------------

    def _check(
        self, amount: Money, key: str, at: datetime, reason: str, reference: str | None
    ) -> datetime:
        if not isinstance(amount, Money):
            raise ValidationError("amount", amount, "must be Money")
        if amount.currency != self.currency:
            raise CurrencyMismatch(self.currency, amount.currency)
        if amount.amount <= 0 or not amount.is_rounded():
            raise ValidationError("amount", amount, "positive and in whole minor units")
        require_key("key", key)
        require_key("reason", reason)
        if reference is not None:
            require_key("reference", reference)
        return to_utc(at)

    def _enter(
        self,
        kind: EntryKind,
        *,
        amount: Money,
        key: str,
        at: datetime,
        reason: str,
        reference: str | None,
        reverses: str | None = None,
    ) -> WalletEntry:
        found = self._by_key.get(key)
        if found is not None:
            earlier = self._entry(found)
            if (earlier.kind, earlier.amount, earlier.reason, earlier.reference) == (
                kind,
                amount,
                reason,
                reference,
            ) and earlier.reverses == reverses:
                return earlier
            raise IdempotencyConflict(key, f"wallet entry {earlier.kind.value} {earlier.amount}")
        balance = self._balance
        if kind is EntryKind.DEBIT and balance < amount:
            raise InsufficientFunds(needed=amount, available=balance)
        if kind is EntryKind.CREDIT:
            self._credited += amount
            balance += amount
        else:
            self._debited += amount
            balance -= amount
        self._balance = balance
        self._sequence += 1
        # Built by trusted constructors, of values checked above: every renewal paid from the
        # wallet makes an entry and its event.
        entry = _new_entry(
            key, kind, amount, at, reason, reference, reverses, self._sequence, balance
        )
        self._append(entry.to_state(), entry)
        new_event = _new_credited if kind is EntryKind.CREDIT else _new_debited
        event = new_event(self.account_id, at, key, amount, balance, reason, reference, reverses)
        self._events.record(event)
        return entry

    def _entry(self, state: State) -> WalletEntry:
        """The entry `state` describes (built once, when first read)."""
        sequence = state["sequence"]
        entry = self._parsed.get(sequence)
        if entry is None:
            entry = WalletEntry.from_state(state)
            self._parsed[sequence] = entry
        return entry

    def _append(self, state: State, entry: WalletEntry | None = None) -> None:
        self._states.append(state)
        self._by_key[state["key"]] = state
        if entry is not None:
            self._parsed[state["sequence"]] = entry
        reverses = state["reverses"]
        if reverses is not None:
            self._reversed.add(reverses)
        while len(self._states) > self.history_limit:
            dropped = self._states.pop(0)
            del self._by_key[dropped["key"]]
            self._parsed.pop(dropped["sequence"], None)
            self._reversed.discard(dropped["key"])
            if dropped["reverses"] is not None:
                self._reversed.discard(dropped["reverses"])

    # --- state ------------------------------------------------------------------------------

    def copy(self) -> Wallet:
        """An independent wallet in this one's stored state, with its version.

        The same as ``from_state(to_state())`` without re-reading every retained entry: the
        entries' data is shared (a wallet never changes an entry's data once appended), the
        lists and indexes over it are copied, and the events waiting to be pulled are not.
        A store keeps a copy of each wallet it committed and hands it to the next unit of work
        that reads that very document (see `CommittedAggregates`).
        """
        wallet = _new(Wallet)
        _set = object.__setattr__  # the fields were checked when this wallet was built
        _set(wallet, "account_id", self.account_id)
        _set(wallet, "currency", self.currency)
        _set(wallet, "version", self.version)
        _set(wallet, "history_limit", self.history_limit)
        _set(wallet, "_credited", self._credited)
        _set(wallet, "_debited", self._debited)
        _set(wallet, "_sequence", self._sequence)
        _set(wallet, "_states", self._states.copy())
        _set(wallet, "_by_key", self._by_key.copy())
        _set(wallet, "_parsed", self._parsed.copy())  # immutable entries
        _set(wallet, "_reversed", self._reversed.copy())
        _set(wallet, "_balance", self._balance)
        _set(wallet, "_events", EventBuffer())
        return wallet

    def to_state(self, *, shared: bool = False) -> State:
        """The wallet as a JSON-compatible dict (totals plus the retained entries).

        Args:
            shared: Give the entries' dicts as the wallet keeps them (it never changes one
                once appended), not copies: for a caller that only encodes the result, at
                once, and changes none of it (a store saving the wallet). The dict and the
                list of entries are always new.
        """
        states = self._states
        return {
            "account_id": self.account_id,
            "currency": self.currency,
            "version": self.version,
            "history_limit": self.history_limit,
            "balance": money_to_state(self._balance),
            "credited": money_to_state(self._credited),
            "debited": money_to_state(self._debited),
            "sequence": self._sequence,
            "entries": states.copy() if shared else [_copy_entry_state(e) for e in states],
        }

    @classmethod
    def from_state(cls, state: State) -> Wallet:
        """The wallet that `to_state` encoded.

        The totals and the entries' order, keys and currencies are checked now; an entry's
        other fields are read when the entry is (`entries`, `entry`, a repeated key).

        Raises:
            ValidationError: if the document is inconsistent (balance is not credited minus
                debited, a negative balance, entries in another currency or out of order).
        """
        wallet = cls(
            state["account_id"],
            state["currency"],
            version=state["version"],
            history_limit=state["history_limit"],
        )
        credited = money_from_state(state["credited"])
        debited = money_from_state(state["debited"])
        balance = money_from_state(state["balance"])
        entries = [_entry_state(item) for item in state["entries"]]
        for total in (credited, debited):
            if total.currency != wallet.currency:
                raise CurrencyMismatch(wallet.currency, total.currency)
        if balance != credited - debited or balance.amount < 0:
            raise ValidationError("balance", balance, "must equal credited - debited, >= 0")
        sequences = [entry["sequence"] for entry in entries]
        if sequences != sorted(set(sequences)) or (entries and sequences[-1] != state["sequence"]):
            raise ValidationError("entries", sequences, "out of order or not ending at sequence")
        if len(entries) > wallet.history_limit:
            raise ValidationError("entries", len(entries), "more than history_limit")
        wallet._credited = credited
        wallet._debited = debited
        wallet._balance = balance
        wallet._sequence = state["sequence"]
        for entry in entries:
            currency = entry["amount"]["currency"]
            if currency != wallet.currency:
                raise CurrencyMismatch(wallet.currency, currency)
            wallet._append(entry)
        return wallet


def _copy_entry_state(state: State) -> State:
    """A fresh copy of an entry's plain data (the only nested values are the two amounts)."""
    return {
        **state,
        "amount": dict(state["amount"]),
        "balance_after": dict(state["balance_after"]),
    }


def _entry_state(item: object) -> State:
    """An entry's plain data from a document, copied, its shape checked.

    The fields the wallet relies on before the entry is read (key, sequence, currency, the
    key it reverses) must be there with the right types; the rest is checked when the entry
    is built from it.

    Raises:
        ValidationError: for an entry without them.
    """
    state: State | None = None
    try:
        if isinstance(item, dict):
            copied = _copy_entry_state(item)
            state = copied if _entry_shaped(copied) else None
    except (KeyError, TypeError, ValueError):
        state = None
    if state is None:
        raise ValidationError("entries", item, "not a wallet entry")
    return state


def _entry_shaped(state: State) -> bool:
    amount = state["amount"]
    return (
        isinstance(state["key"], str)
        and type(state["sequence"]) is int
        and isinstance(amount["currency"], str)
        and isinstance(amount["amount"], str)
        and isinstance(state["balance_after"]["amount"], str)
        and (state["reverses"] is None or isinstance(state["reverses"], str))
    )
