"""The edge where outside data meets minutebill: the only module that uses pydantic.

`CatalogSchema` validates catalog files (TOML or JSON) before they become domain values.
Prices are decimal strings or integers — never floats, which cannot hold a price exactly.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from minutebill.domain.catalog import (
    AddOnBundle,
    BundleValidity,
    Capability,
    NumberOffer,
    OverageMode,
    OveragePolicy,
    Plan,
    PlanFeatures,
    ValidityKind,
)
from minutebill.domain.money import Money, known_currencies
from minutebill.domain.periods import BillingInterval
from minutebill.domain.rating import BillingIncrement

__all__ = [
    "BundleSchema",
    "CatalogSchema",
    "NumberOfferSchema",
    "OverageSchema",
    "PlanSchema",
]


def _exact_amount(value: object) -> Decimal:
    """Accept a decimal string or an int; refuse floats and everything else."""
    if isinstance(value, bool | float):
        msg = "use a decimal string like '999.00' (floats are inexact)"
        raise ValueError(msg)  # noqa: TRY004 - pydantic turns ValueError into a field error
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            msg = "not a decimal number"
            raise ValueError(msg) from None
        if amount.is_finite():
            return amount
        msg = "must be finite"
        raise ValueError(msg)
    msg = "use a decimal string like '999.00'"
    raise ValueError(msg)


Amount = Annotated[Decimal, BeforeValidator(_exact_amount), Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OverageSchema(_Strict):
    """``{ mode = "block" }`` or ``{ mode = "charge_wallet", rate_per_minute = "1.20" }``."""

    mode: Literal["block", "charge_wallet", "bill_in_arrears"] = "block"
    rate_per_minute: Amount | None = None


class PlanSchema(_Strict):
    """One ``[[plans]]`` entry."""

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    price: Amount
    interval_months: int = Field(default=1, ge=1, strict=True)
    included_minutes: int = Field(ge=0, strict=True)
    concurrent_calls: int = Field(ge=1, strict=True)
    phone_numbers: int = Field(ge=0, strict=True)
    queue_priority: int = Field(default=0, ge=0, strict=True)
    rating: str = "60/60"
    overage: OverageSchema = OverageSchema()

    @field_validator("rating")
    @classmethod
    def _rating(cls, value: str) -> str:
        BillingIncrement.parse(value)
        return value


class BundleSchema(_Strict):
    """One ``[[bundles]]`` entry; `validity` is ``"plan_period"``, ``"never"`` or a day count."""

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    minutes: int = Field(gt=0, strict=True)
    price: Amount
    validity: Literal["plan_period", "never"] | Annotated[int, Field(gt=0, strict=True)] = (
        "plan_period"
    )


class NumberOfferSchema(_Strict):
    """One ``[[number_offers]]`` entry."""

    code: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    kind: str = Field(min_length=1)
    capabilities: list[Literal["voice", "sms", "mms"]] = Field(min_length=1)
    monthly_fee: Amount
    upfront_fee: Amount
    interval_months: int = Field(default=1, ge=1, strict=True)


class CatalogSchema(_Strict):
    """A whole catalog file: one currency, plans, bundles and number offers."""

    currency: str
    plans: list[PlanSchema] = Field(default_factory=list)
    bundles: list[BundleSchema] = Field(default_factory=list)
    number_offers: list[NumberOfferSchema] = Field(default_factory=list)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if value not in known_currencies():
            msg = f"{value!r} is not an ISO 4217 code known to Babel"
            raise ValueError(msg)
        return value

    def to_domain(self) -> tuple[list[Plan], list[AddOnBundle], list[NumberOffer]]:
        """Build the domain values this schema describes."""
        cur = self.currency
        plans = [
            Plan(
                code=p.code,
                name=p.name,
                price=Money(p.price, cur),
                interval=BillingInterval(p.interval_months),
                included_minutes=p.included_minutes,
                features=PlanFeatures(
                    concurrent_calls=p.concurrent_calls,
                    phone_numbers=p.phone_numbers,
                    queue_priority=p.queue_priority,
                    overage=OveragePolicy(
                        OverageMode(p.overage.mode),
                        None
                        if p.overage.rate_per_minute is None
                        else Money(p.overage.rate_per_minute, cur),
                    ),
                    rating=BillingIncrement.parse(p.rating),
                ),
            )
            for p in self.plans
        ]
        bundles = [
            AddOnBundle(
                code=b.code,
                name=b.name,
                minutes=b.minutes,
                price=Money(b.price, cur),
                validity=(
                    BundleValidity.for_days(b.validity)
                    if isinstance(b.validity, int)
                    else BundleValidity(ValidityKind(b.validity))
                ),
            )
            for b in self.bundles
        ]
        offers = [
            NumberOffer(
                code=o.code,
                country=o.country,
                kind=o.kind,
                capabilities=frozenset(Capability(c) for c in o.capabilities),
                monthly_fee=Money(o.monthly_fee, cur),
                upfront_fee=Money(o.upfront_fee, cur),
                interval=BillingInterval(o.interval_months),
            )
            for o in self.number_offers
        ]
        return plans, bundles, offers


def error_location(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a readable path: ``plans[0].price``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "literal[", "int", "str", "constrained")):
            continue
        else:
            out += f".{part}" if out else part
    return out or "<root>"


def first_error(errors: list[Any]) -> tuple[str, object, str]:
    """(field path, value, message) of the first pydantic error."""
    err = errors[0]
    return error_location(tuple(err["loc"])), err.get("input"), str(err["msg"])
