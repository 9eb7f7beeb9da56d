"""The error tree: one base, structured attributes, messages that name the value."""

from __future__ import annotations

import inspect
import pickle
from collections.abc import Callable
from typing import Any

import pytest

import minutebill
from minutebill import errors
from minutebill.domain.catalog import Capability
from minutebill.domain.money import Money
from minutebill.errors import (
    CatalogError,
    ConcurrencyConflict,
    CurrencyMismatch,
    GatewayError,
    GatewayRejected,
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyConflict,
    InsufficientFunds,
    InsufficientMinutes,
    InvalidTransition,
    LimitExceeded,
    MinutebillError,
    MissingCapability,
    NotFound,
    PaymentFailed,
    PersistenceError,
    ValidationError,
    WebhookVerificationError,
)

ERROR_CLASSES = [getattr(errors, name) for name in errors.__all__]

# (build the error, the attributes it must carry, text its message must contain)
CASES: dict[str, tuple[Callable[[], MinutebillError], dict[str, Any], list[str]]] = {
    "validation": (
        lambda: ValidationError("amount", 0.1, "float is inexact"),
        {"field": "amount", "value": 0.1, "reason": "float is inexact"},
        ["amount", "0.1", "float is inexact"],
    ),
    "catalog": (
        lambda: CatalogError("plans.toml", "plans[1].price", 7999.0, "floats are inexact"),
        {"path": "plans.toml", "field": "plans[1].price", "value": 7999.0},
        ["plans.toml", "plans[1].price", "7999.0", "floats are inexact"],
    ),
    "currency mismatch": (
        lambda: CurrencyMismatch("INR", "USD"),
        {"expected": "INR", "actual": "USD"},
        ["INR", "USD"],
    ),
    "insufficient minutes": (
        lambda: InsufficientMinutes(needed=600, available=90, account_id="acct-7"),
        {"needed": 600, "available": 90, "account_id": "acct-7"},
        ["600", "90", "acct-7"],
    ),
    "insufficient funds": (
        lambda: InsufficientFunds(Money("250.00", "INR"), Money("99.50", "INR")),
        {"needed": Money("250.00", "INR"), "available": Money("99.50", "INR")},
        ["250.00 INR", "99.50 INR"],
    ),
    "invalid transition": (
        lambda: InvalidTransition("number +911234567890", "RELEASED", "renew"),
        {"entity": "number +911234567890", "state": "RELEASED", "action": "renew"},
        ["+911234567890", "RELEASED", "renew"],
    ),
    "limit exceeded": (
        lambda: LimitExceeded("phone_numbers", 5, 6),
        {"limit_name": "phone_numbers", "limit": 5, "requested": 6},
        ["phone_numbers", "5", "6"],
    ),
    "idempotency conflict": (
        lambda: IdempotencyConflict("call-42", "duration differs"),
        {"key": "call-42", "detail": "duration differs"},
        ["call-42", "duration differs"],
    ),
    "concurrency conflict": (
        lambda: ConcurrencyConflict("ledger acct-1", expected=3, actual=4),
        {"aggregate": "ledger acct-1", "expected": 3, "actual": 4},
        ["ledger acct-1", "3", "4"],
    ),
    "not found": (
        lambda: NotFound("plan", "platinum"),
        {"kind": "plan", "key": "platinum"},
        ["plan", "platinum"],
    ),
    "payment failed": (
        lambda: PaymentFailed("card declined", retryable=True),
        {"reason": "card declined", "retryable": True},
        ["card declined"],
    ),
    "missing capability": (
        lambda: MissingCapability([Capability.SMS, Capability.VOICE]),
        {"missing": frozenset({Capability.SMS, Capability.VOICE})},
        ["sms, voice"],
    ),
    "persistence": (
        lambda: PersistenceError("database is locked", retryable=True),
        {"retryable": True},
        ["database is locked"],
    ),
    "gateway": (
        lambda: GatewayError("bad gateway response", retryable=True),
        {"retryable": True},
        ["bad gateway response"],
    ),
    "webhook": (
        lambda: WebhookVerificationError("signature mismatch"),
        {},
        ["signature mismatch"],
    ),
}


@pytest.mark.parametrize(("build", "attributes", "texts"), CASES.values(), ids=CASES.keys())
def test_errors_carry_attributes_and_name_the_value(
    build: Callable[[], MinutebillError], attributes: dict[str, Any], texts: list[str]
) -> None:
    error = build()
    for name, value in attributes.items():
        assert getattr(error, name) == value, name
    message = str(error)
    for text in texts:
        assert text in message, text
    with pytest.raises(MinutebillError):
        raise error


@pytest.mark.parametrize(("build", "attributes", "texts"), CASES.values(), ids=CASES.keys())
def test_errors_cross_process_boundaries_intact(
    build: Callable[[], MinutebillError], attributes: dict[str, Any], texts: list[str]
) -> None:
    error = build()
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, as a worker pool
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert vars(copy) == vars(error)
    for name, value in attributes.items():
        assert getattr(copy, name) == value, name


def test_every_error_class_is_covered_by_a_case() -> None:
    built = {type(build()) for build, _, _ in CASES.values()}
    built |= {GatewayTimeout, GatewayUnavailable, GatewayRejected, MinutebillError}
    assert built == set(ERROR_CLASSES)


def test_the_tree() -> None:
    for cls in ERROR_CLASSES:
        assert issubclass(cls, MinutebillError)
        assert issubclass(cls, Exception)
    assert issubclass(ValidationError, ValueError)
    assert issubclass(CatalogError, ValidationError)
    assert issubclass(CurrencyMismatch, ValueError)
    assert issubclass(NotFound, LookupError)
    for gateway in (GatewayTimeout, GatewayUnavailable, GatewayRejected):
        assert issubclass(gateway, GatewayError)
    assert not issubclass(CurrencyMismatch, ValidationError)
    assert not issubclass(InsufficientFunds, ValueError)


def test_callers_can_catch_the_standard_bases() -> None:
    with pytest.raises(ValueError, match="amount"):
        Money(0.1, "INR")  # type: ignore[arg-type]
    with pytest.raises(LookupError, match="platinum"):
        minutebill.Catalog(plans=[]).plan("platinum")
    with pytest.raises(ValueError, match="USD"):
        Money(1, "INR") + Money(1, "USD")


def test_gateway_errors_say_whether_to_retry() -> None:
    assert GatewayTimeout("no answer").retryable
    assert GatewayUnavailable("503").retryable
    assert not GatewayRejected("invalid amount").retryable
    assert not GatewayError("unknown").retryable
    assert GatewayRejected("rate limited", retryable=True).retryable
    assert not GatewayTimeout("no answer", retryable=False).retryable


def test_optional_details_stay_out_of_the_message_when_absent() -> None:
    assert "account" not in str(InsufficientMinutes(60, 0))
    assert InsufficientMinutes(60, 0).account_id is None
    assert str(IdempotencyConflict("k")).endswith("different input")
    assert "store has" not in str(ConcurrencyConflict("wallet w", 1))
    assert not PaymentFailed("declined").retryable
    assert not PersistenceError("disk full").retryable


def test_catalog_errors_read_file_field_reason_value() -> None:
    error = CatalogError("catalog.toml", "currency", "XYZ", "not an ISO 4217 code")
    assert str(error) == "catalog.toml: currency: not an ISO 4217 code (got 'XYZ')"
    assert error.reason == "not an ISO 4217 code"


def test_the_module_docstring_draws_every_error() -> None:
    tree = inspect.getdoc(errors) or ""
    for name in errors.__all__:
        assert name in tree, name


def test_every_error_is_exported_from_the_package() -> None:
    for name in errors.__all__:
        assert getattr(minutebill, name) is getattr(errors, name)
        assert name in minutebill.__all__
