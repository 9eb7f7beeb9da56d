"""What every view's JSON model shares: a strict, immutable base and the field types."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from minutebill.schemas import MoneySchema

__all__ = ["CapabilityName", "DecimalText", "ViewModel", "money_schema"]

DecimalText = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", examples=["26.06"])]
"""An exact decimal as a string: ``"5300.00"``."""

CapabilityName = Literal["voice", "sms", "mms"]


class ViewModel(BaseModel):
    """Outgoing JSON: exactly these fields, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def money_schema(value: Any) -> MoneySchema:
    """The JSON form of a `Money` (the views hold domain money; the documents carry this)."""
    return MoneySchema.from_domain(value)
