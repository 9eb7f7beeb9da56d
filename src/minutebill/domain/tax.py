"""Tax on a checkout: none, an exclusive or inclusive rate, or India's GST.

The rounding rule, applied everywhere in minutebill's checkout:

1. Line prices are already whole minor units (catalog prices are).
2. Tax is computed **once**, on the precise sum of the taxable lines (never per line and then
   summed), at 50 significant digits, and rounded **once** to the currency's minor unit,
   half-up. An inclusive rate extracts ``gross × rate / (1 + rate)``; an exclusive rate adds
   ``net × rate``. Every step runs in a private decimal context, so no ambient setting
   (precision, rounding, traps) changes a tax.
3. The rounded tax is split into its components (CGST and SGST, say) in proportion to their
   rates by largest remainder (`Money.allocate`), so the components always sum exactly to the
   tax. When the tax has an odd paisa and the two halves tie, the **first** component (CGST)
   takes the extra paisa.

With this rule, pricing a net amount exclusively and then extracting the tax from the gross
total inclusively gives back the same tax to the paisa, for every rate.
"""

from __future__ import annotations

import enum
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from attrs import field, frozen

from minutebill.domain.decimals import private_context, quantize
from minutebill.domain.money import Money, minor_unit
from minutebill.domain.state import State, money_from_state, money_to_state
from minutebill.errors import ValidationError

__all__ = ["TaxComponent", "TaxLine", "TaxMode", "TaxPolicy"]

# Tax arithmetic: 50 significant digits, half-even, in a private context (never the ambient
# one, whose precision, rounding or traps a host may have changed).
_TAX = private_context(50, ROUND_HALF_EVEN)


def _rate(value: object, field_name: str = "rate") -> Decimal:
    if isinstance(value, bool | float):
        raise ValidationError(field_name, value, "use a Decimal or a string like '0.18'")
    try:
        rate = Decimal(value) if isinstance(value, Decimal | int | str) else None
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite() or not Decimal(0) <= rate < Decimal(1):
        raise ValidationError(field_name, value, "a tax rate is a fraction in [0, 1), e.g. '0.18'")
    return rate


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("name", value, "a tax component needs a name such as 'GST'")
    return value.strip()


class TaxMode(enum.Enum):
    """Whether prices carry no tax, have tax added on top, or already include it."""

    NONE = "none"
    EXCLUSIVE = "exclusive"
    INCLUSIVE = "inclusive"


@frozen
class TaxComponent:
    """One named part of a tax, such as ``CGST`` at 9 %.

    Attributes:
        name: What the invoice calls it (``"GST"``, ``"CGST"``, ``"IGST"``, ``"VAT"``).
        rate: A fraction in [0, 1): ``Decimal("0.09")`` is 9 %.
    """

    name: str = field(converter=_name)
    rate: Decimal = field(converter=_rate)


@frozen
class TaxLine:
    """A tax component as charged on one quote: its name, rate and amount.

    Attributes:
        name: The component's name.
        rate: Its rate.
        amount: The rounded amount; the lines of a quote sum exactly to its tax.
    """

    name: str = field(converter=_name)
    rate: Decimal = field(converter=_rate)
    amount: Money

    def __attrs_post_init__(self) -> None:
        amount = self.amount
        if not isinstance(amount, Money) or amount.amount < 0 or not amount.is_rounded():
            raise ValidationError("amount", amount, "non-negative Money in whole minor units")

    def to_state(self) -> State:
        """This line as a JSON-compatible dict."""
        return {"name": self.name, "rate": str(self.rate), "amount": money_to_state(self.amount)}

    @classmethod
    def from_state(cls, state: State) -> TaxLine:
        """The line that `to_state` encoded."""
        return cls(state["name"], Decimal(state["rate"]), money_from_state(state["amount"]))


def _components(value: object) -> tuple[TaxComponent, ...]:
    if not isinstance(value, tuple | list) or not all(isinstance(c, TaxComponent) for c in value):
        raise ValidationError("components", value, "expected TaxComponent values")
    return tuple(value)


@frozen
class TaxPolicy:
    """How a checkout is taxed. Build one with the named constructors.

    Attributes:
        mode: None, exclusive (added on top) or inclusive (already in the prices).
        components: The named parts of the tax; their rates add up to the policy's rate.
    """

    mode: TaxMode = TaxMode.NONE
    components: tuple[TaxComponent, ...] = field(default=(), converter=_components)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.mode, TaxMode):
            raise ValidationError("mode", self.mode, "expected a TaxMode")
        if (self.mode is TaxMode.NONE) != (not self.components):
            raise ValidationError("components", self.components, "only 'none' has no components")
        if self.rate >= 1:
            raise ValidationError("components", self.components, "the rates add up to >= 100 %")

    @classmethod
    def none(cls) -> TaxPolicy:
        """No tax: the default for a checkout."""
        return cls()

    @classmethod
    def exclusive(cls, rate: Decimal | str, name: str = "Tax") -> TaxPolicy:
        """Tax added on top of the prices: ₹100 at 18 % costs ₹118."""
        return cls(TaxMode.EXCLUSIVE, (TaxComponent(name, rate),))

    @classmethod
    def inclusive(cls, rate: Decimal | str, name: str = "Tax") -> TaxPolicy:
        """Prices already include the tax: ₹118 at 18 % is ₹100 plus ₹18 of tax."""
        return cls(TaxMode.INCLUSIVE, (TaxComponent(name, rate),))

    @classmethod
    def india_gst(
        cls,
        rate: Decimal | str,
        *,
        supplier_state: str,
        customer_state: str,
        inclusive: bool = False,
        state_tax_name: str = "SGST",
    ) -> TaxPolicy:
        """India's GST: CGST + SGST (half each) within a state, IGST across states.

        Args:
            rate: The GST rate, e.g. ``"0.18"``.
            supplier_state: The supplier's state (GST state code ``"29"`` or ``"KA"``).
            customer_state: The place of supply: the customer's state.
            inclusive: Whether the prices already include GST.
            state_tax_name: ``"UTGST"`` for a union territory without a legislature.

        Raises:
            ValidationError: for a bad rate or an empty state.
        """
        total = _rate(rate)
        supplier, customer = _state_code(supplier_state), _state_code(customer_state)
        parts: tuple[TaxComponent, ...]
        if supplier == customer:
            half = _TAX.divide(total, 2)
            parts = (TaxComponent("CGST", half), TaxComponent(state_tax_name, half))
        else:
            parts = (TaxComponent("IGST", total),)
        return cls(TaxMode.INCLUSIVE if inclusive else TaxMode.EXCLUSIVE, parts)

    @property
    def rate(self) -> Decimal:
        """The combined rate of all components."""
        rate = Decimal(0)
        for component in self.components:
            rate = _TAX.add(rate, component.rate)
        return rate

    @property
    def inclusive_prices(self) -> bool:
        """Whether prices already include the tax."""
        return self.mode is TaxMode.INCLUSIVE

    def tax_on(self, taxable: Money) -> Money:
        """The tax on `taxable` (net prices if exclusive, gross if inclusive), rounded once.

        Raises:
            ValidationError: if `taxable` is not a whole number of minor units.
        """
        if not taxable.is_rounded():
            raise ValidationError("taxable", taxable, "round line prices before taxing them")
        rate = self.rate
        if self.mode is TaxMode.EXCLUSIVE:
            precise = _TAX.multiply(taxable.amount, rate)
        elif self.mode is TaxMode.INCLUSIVE:
            precise = _TAX.divide(_TAX.multiply(taxable.amount, rate), _TAX.add(1, rate))
        else:
            precise = Decimal(0)
        return Money(quantize(precise, minor_unit(taxable.currency)), taxable.currency)

    def lines(self, tax: Money) -> tuple[TaxLine, ...]:
        """`tax` split into this policy's components, summing exactly to it."""
        if not self.components:
            return ()
        rates = [c.rate for c in self.components]
        if not any(rates):
            parts = [Money.zero(tax.currency) for _ in rates]
        else:
            parts = tax.allocate(rates)
        return tuple(
            TaxLine(c.name, c.rate, part) for c, part in zip(self.components, parts, strict=True)
        )

    def to_state(self) -> State:
        """This policy as a JSON-compatible dict."""
        return {
            "mode": self.mode.value,
            "components": [{"name": c.name, "rate": str(c.rate)} for c in self.components],
        }

    @classmethod
    def from_state(cls, state: State) -> TaxPolicy:
        """The policy that `to_state` encoded."""
        return cls(
            TaxMode(state["mode"]),
            tuple(TaxComponent(c["name"], Decimal(c["rate"])) for c in state["components"]),
        )


def _state_code(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("state", value, "a GST state code such as '29' or 'KA'")
    return value.strip().upper()
