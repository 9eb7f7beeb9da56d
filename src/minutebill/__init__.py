"""minutebill: the billing rules of voice platforms that sell calling minutes.

The public API is re-exported here; every other module is private unless documented.
"""

from importlib.metadata import PackageNotFoundError, version

from minutebill.catalog import Catalog
from minutebill.clock import SystemClock
from minutebill.domain.catalog import (
    AddOnBundle,
    BundleValidity,
    Capability,
    NumberOffer,
    OverageMode,
    OveragePolicy,
    Plan,
    PlanFeatures,
)
from minutebill.domain.events import DomainEvent
from minutebill.domain.money import Money
from minutebill.domain.periods import BillingCycle, BillingInterval, BillingPeriod
from minutebill.domain.rating import BillingIncrement
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

try:
    __version__ = version("minutebill")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "AddOnBundle",
    "BillingCycle",
    "BillingIncrement",
    "BillingInterval",
    "BillingPeriod",
    "BundleValidity",
    "Capability",
    "Catalog",
    "CatalogError",
    "ConcurrencyConflict",
    "CurrencyMismatch",
    "DomainEvent",
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
    "Money",
    "NotFound",
    "NumberOffer",
    "OverageMode",
    "OveragePolicy",
    "PaymentFailed",
    "PersistenceError",
    "Plan",
    "PlanFeatures",
    "SystemClock",
    "ValidationError",
    "WebhookVerificationError",
    "__version__",
]
