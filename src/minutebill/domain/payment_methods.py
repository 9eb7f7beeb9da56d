"""How a customer pays: `Upi(vpa)` or `Card(brand, last4, funding)`.

Card numbers and CVVs never enter minutebill: the gateway's hosted page or SDK collects them,
and only the brand, the last four digits and the funding type come back. A `Card` (in any
field) and a `Upi` address refuse anything that looks like a card number (12 or more digits in
a row, whatever punctuation or spaces separate them), and the error message masks the digits
so they never reach a log.
"""

from __future__ import annotations

import enum
import re

from attrs import frozen

from minutebill.domain.state import State
from minutebill.errors import ValidationError

__all__ = ["Card", "CardFunding", "PaymentMethod", "Upi", "method_from_state", "method_to_state"]

# NPCI: the name is letters, digits, dots, hyphens and underscores; the handle names the PSP.
_VPA = re.compile(r"^[a-z0-9][a-z0-9._-]{1,255}@[a-z][a-z0-9.-]{1,63}$")
_PAN_LIKE = re.compile(r"[0-9]{12,}")
_SEPARATORS = re.compile(r"[\W_]")  # spaces, dashes, dots, underscores: anything between digits


def _refuse_card_numbers(field_name: str, value: str) -> None:
    digits = _PAN_LIKE.search(_SEPARATORS.sub("", value))
    if digits:
        masked = f"<{len(digits.group())} digits ending {digits.group()[-4:]}>"
        raise ValidationError(
            field_name, masked, "card numbers never enter minutebill; pass the last 4 digits"
        )


@frozen
class Upi:
    """A UPI virtual payment address, ``name@handle`` (case-insensitive, kept lower-case).

    Attributes:
        vpa: The address, e.g. ``"asha@okaxis"``.

    Raises:
        ValidationError: for an address without a handle or with characters UPI refuses.
    """

    vpa: str

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.vpa, str):
            raise ValidationError("vpa", self.vpa, "expected a UPI address like 'name@bank'")
        _refuse_card_numbers("vpa", self.vpa)
        vpa = self.vpa.strip().lower()
        if not _VPA.match(vpa):
            raise ValidationError("vpa", self.vpa, "expected a UPI address like 'name@bank'")
        object.__setattr__(self, "vpa", vpa)

    @property
    def handle(self) -> str:
        """The part after ``@``: the payment service provider."""
        return self.vpa.partition("@")[2]


class CardFunding(enum.Enum):
    """What kind of account a card draws on."""

    CREDIT = "credit"
    DEBIT = "debit"
    PREPAID = "prepaid"
    UNKNOWN = "unknown"


@frozen
class Card:
    """A card as the gateway describes it after tokenising: never its number or CVV.

    Attributes:
        brand: The network, e.g. ``"visa"``, ``"mastercard"``, ``"rupay"``.
        last4: The last four digits, as a string.
        funding: Credit, debit, prepaid or unknown.

    Raises:
        ValidationError: for a `last4` that is not four digits, an empty brand, or any field
            holding something that looks like a full card number.
    """

    brand: str
    last4: str
    funding: CardFunding = CardFunding.UNKNOWN

    def __attrs_post_init__(self) -> None:
        for name in ("brand", "last4"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                _refuse_card_numbers(name, str(value))
            if not isinstance(value, str):
                raise ValidationError(name, "<not a string>", "must be a string")
            _refuse_card_numbers(name, value)
        if not re.fullmatch(r"[0-9]{4}", self.last4):
            raise ValidationError("last4", self.last4, "exactly the last four digits")
        brand = self.brand.strip().lower()
        if not brand or len(brand) > 32 or any(ch.isdigit() for ch in brand):
            raise ValidationError("brand", self.brand, "a card network name such as 'visa'")
        object.__setattr__(self, "brand", brand)
        if not isinstance(self.funding, CardFunding):
            raise ValidationError("funding", self.funding, "expected a CardFunding")


PaymentMethod = Upi | Card
"""A way to pay: UPI or a card."""


def method_to_state(method: PaymentMethod | None) -> State | None:
    """A payment method as a JSON-compatible dict (None passes through)."""
    if method is None:
        return None
    if isinstance(method, Upi):
        return {"type": "upi", "vpa": method.vpa}
    return {
        "type": "card",
        "brand": method.brand,
        "last4": method.last4,
        "funding": method.funding.value,
    }


def method_from_state(state: State | None) -> PaymentMethod | None:
    """The method that `method_to_state` encoded."""
    if state is None:
        return None
    if state["type"] == "upi":
        return Upi(state["vpa"])
    return Card(state["brand"], state["last4"], CardFunding(state["funding"]))
