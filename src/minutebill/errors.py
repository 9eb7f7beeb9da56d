"""The one error tree of minutebill.

Every error minutebill raises on purpose derives from :class:`MinutebillError`, carries
structured attributes a host can act on, and a message that names the offending value. An
operation that raises one of these has changed nothing.

```text
MinutebillError
├── ValidationError (also ValueError)     bad input: a value, a field, a file
│   └── CatalogError                      a catalog file that does not validate
├── CurrencyMismatch (also ValueError)    arithmetic across two currencies
├── InsufficientMinutes                   no grant can cover a hold or a call
├── InsufficientFunds                     a wallet debit larger than the balance
├── InvalidTransition                     an action the current state does not allow
├── LimitExceeded                         a plan limit (phone numbers, concurrent calls)
├── IdempotencyConflict                   a key reused with different input
├── ConcurrencyConflict                   a stale aggregate version on save
├── NotFound (also LookupError)           an unknown account, plan, call, number, ...
├── PaymentFailed                         a payment that did not go through
├── WebhookVerificationError              a webhook whose signature does not verify
├── MissingCapability                     an order lacks a capability it requires
├── PersistenceError                      a storage driver failed (translated)
└── GatewayError                          a payment gateway failed (translated)
    ├── GatewayTimeout                    retryable
    ├── GatewayUnavailable                retryable
    └── GatewayRejected                   not retryable
```
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CatalogError",
    "ConcurrencyConflict",
    "CurrencyMismatch",
    "GatewayError",
    "GatewayRejected",
    "GatewayTimeout",
    "GatewayUnavailable",
    "IdempotencyConflict",
    "InsufficientFunds",
    "InsufficientMinutes",
    "InvalidTransition",
    "LimitExceeded",
    "MinutebillError",
    "MissingCapability",
    "NotFound",
    "PaymentFailed",
    "PersistenceError",
    "ValidationError",
    "WebhookVerificationError",
]


class MinutebillError(Exception):
    """Base of every error minutebill raises on purpose.

    Catch this to handle any refusal from the library; the subclasses say why. Errors pickle
    with their attributes, so they cross process boundaries (a worker pool, a task queue)
    intact.
    """

    def __reduce__(self) -> tuple[object, ...]:
        # Exception pickles as ``cls(*args)``, which fails for subclasses whose constructor
        # takes other arguments than the message: rebuild from the attributes instead.
        return (_restore, (type(self), self.args, self.__dict__))


def _restore(
    cls: type[MinutebillError], args: tuple[object, ...], attributes: dict[str, object]
) -> MinutebillError:
    """The error `MinutebillError.__reduce__` pickled (its constructor is not called again)."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(attributes)
    return error


class ValidationError(MinutebillError, ValueError):
    """Input that minutebill refuses: the wrong type, a value out of range, a bad format.

    Attributes:
        field: The name of the argument or field that was refused.
        value: The value that was refused.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={value!r}: {reason}")


class CatalogError(ValidationError):
    """A catalog file that does not validate; names the file and the field.

    Attributes:
        path: The file that was read (or ``"<data>"`` for an in-memory mapping).
    """

    def __init__(self, path: str, field: str, value: object, reason: str) -> None:
        self.path = path
        super().__init__(field, value, reason)
        self.args = (f"{path}: {field}: {reason} (got {value!r})",)


class CurrencyMismatch(MinutebillError, ValueError):
    """Two amounts in different currencies were combined.

    Attributes:
        expected: The currency the operation works in.
        actual: The currency of the other operand.
    """

    def __init__(self, expected: str, actual: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"currency mismatch: expected {expected}, got {actual}")


class InsufficientMinutes(MinutebillError):
    """No grant can cover the seconds asked for, and the plan blocks overage.

    Attributes:
        needed: Seconds that were asked for.
        available: Seconds that were available.
    """

    def __init__(self, needed: int, available: int, account_id: str | None = None) -> None:
        self.needed = needed
        self.available = available
        self.account_id = account_id
        who = f" on account {account_id!r}" if account_id else ""
        super().__init__(f"insufficient minutes{who}: needed {needed} s, available {available} s")


class InsufficientFunds(MinutebillError):
    """A wallet debit is larger than the balance.

    Attributes:
        needed: The amount that was asked for (a ``Money``).
        available: The balance at the time (a ``Money``).
    """

    def __init__(self, needed: object, available: object) -> None:
        self.needed = needed
        self.available = available
        super().__init__(f"insufficient funds: needed {needed}, available {available}")


class InvalidTransition(MinutebillError):
    """An action that the entity's current state does not allow.

    Attributes:
        entity: What was acted on (e.g. ``"number +911234567890"``).
        state: Its state at the time.
        action: What was attempted.
    """

    def __init__(self, entity: str, state: str, action: str) -> None:
        self.entity = entity
        self.state = state
        self.action = action
        super().__init__(f"cannot {action} {entity} while it is {state}")


class LimitExceeded(MinutebillError):
    """A plan limit would be exceeded.

    Attributes:
        limit_name: Which limit (e.g. ``"phone_numbers"``).
        limit: The limit's value.
        requested: How many the operation would lead to.
    """

    def __init__(self, limit_name: str, limit: int, requested: int) -> None:
        self.limit_name = limit_name
        self.limit = limit
        self.requested = requested
        super().__init__(f"{limit_name} limit is {limit}; this would make {requested}")


class IdempotencyConflict(MinutebillError):
    """An idempotency key (or call id, or payment id) was reused with different input.

    Attributes:
        key: The key that was reused.
    """

    def __init__(self, key: str, detail: str = "") -> None:
        self.key = key
        self.detail = detail
        extra = f": {detail}" if detail else ""
        super().__init__(f"idempotency key {key!r} was already used with different input{extra}")


class ConcurrencyConflict(MinutebillError):
    """An aggregate was saved from a stale version; reload and try again.

    Attributes:
        aggregate: What was saved (e.g. ``"ledger acct-1"``).
        expected: The version the writer had loaded.
        actual: The version in the store, if known.
    """

    def __init__(self, aggregate: str, expected: int, actual: int | None = None) -> None:
        self.aggregate = aggregate
        self.expected = expected
        self.actual = actual
        found = "" if actual is None else f", store has {actual}"
        super().__init__(f"{aggregate} changed since it was loaded (had version {expected}{found})")


class NotFound(MinutebillError, LookupError):
    """Something that was named does not exist.

    Attributes:
        kind: What kind of thing (``"account"``, ``"plan"``, ``"call"``, ...).
        key: The name or id that was looked up.
    """

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} {key!r}")


class PaymentFailed(MinutebillError):
    """A payment did not go through.

    Attributes:
        reason: The gateway's or minutebill's reason.
        retryable: Whether the same request may succeed later.
    """

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        self.reason = reason
        self.retryable = retryable
        super().__init__(f"payment failed: {reason}")


class WebhookVerificationError(MinutebillError):
    """A webhook whose signature does not verify over its raw body."""


class MissingCapability(MinutebillError):
    """An order lacks capabilities that the purchase requires.

    Attributes:
        missing: The capabilities that are required but not included.
    """

    def __init__(self, missing: Iterable[object]) -> None:
        self.missing = frozenset(missing)
        names = ", ".join(sorted(str(getattr(m, "value", m)) for m in self.missing))
        super().__init__(f"missing capabilities: {names}")


class PersistenceError(MinutebillError):
    """A storage driver failed; the unit of work was rolled back.

    Attributes:
        retryable: Whether the operation may succeed if tried again (e.g. a lock timeout).
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        self.retryable = retryable
        super().__init__(message)


class GatewayError(MinutebillError):
    """A payment gateway failed.

    Attributes:
        retryable: Whether the same request (same idempotency key) may be sent again.
    """

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        if retryable is not None:
            self.retryable = retryable
        super().__init__(message)


class GatewayTimeout(GatewayError):
    """The gateway did not answer in time; the request may or may not have taken effect."""

    retryable = True


class GatewayUnavailable(GatewayError):
    """The gateway refused the connection or answered 5xx; nothing happened."""

    retryable = True


class GatewayRejected(GatewayError):
    """The gateway refused the request as invalid; sending it again will not help."""

    retryable = False
