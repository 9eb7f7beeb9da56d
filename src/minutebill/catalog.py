"""`Catalog`: the plans, bundles and number offers a platform sells, read from a file.

The catalog items themselves are pure domain values (`minutebill.domain.catalog`); the
container lives at the edge because loading it reads a file and validates it with pydantic.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pydantic
from attrs import field, frozen

from minutebill.domain.catalog import AddOnBundle, NumberOffer, Plan
from minutebill.errors import CatalogError, NotFound, ValidationError
from minutebill.schemas import CatalogSchema, first_error

__all__ = ["Catalog"]


_Item = TypeVar("_Item", Plan, AddOnBundle, NumberOffer)


def _index(kind: str, items: Iterable[_Item]) -> dict[str, _Item]:
    out: dict[str, _Item] = {}
    for i, item in enumerate(items):
        if item.code in out:
            raise CatalogError("<catalog>", f"{kind}[{i}].code", item.code, "duplicate code")
        out[item.code] = item
    return out


def _plans_by_code(items: Iterable[Plan]) -> dict[str, Plan]:
    return _index("plans", items)


def _bundles_by_code(items: Iterable[AddOnBundle]) -> dict[str, AddOnBundle]:
    return _index("bundles", items)


def _offers_by_code(items: Iterable[NumberOffer]) -> dict[str, NumberOffer]:
    return _index("number_offers", items)


@frozen
class Catalog:
    """Plans, add-on bundles and number offers, each looked up by code.

    Raises:
        CatalogError: for two items of one kind sharing a code.
    """

    _plans: dict[str, Plan] = field(converter=_plans_by_code, alias="plans")
    _bundles: dict[str, AddOnBundle] = field(
        factory=dict, converter=_bundles_by_code, alias="bundles"
    )
    _number_offers: dict[str, NumberOffer] = field(
        factory=dict, converter=_offers_by_code, alias="number_offers"
    )

    @property
    def plans(self) -> tuple[Plan, ...]:
        """Plans in file order."""
        return tuple(self._plans.values())

    @property
    def bundles(self) -> tuple[AddOnBundle, ...]:
        """Add-on bundles in file order."""
        return tuple(self._bundles.values())

    @property
    def number_offers(self) -> tuple[NumberOffer, ...]:
        """Number offers in file order."""
        return tuple(self._number_offers.values())

    def plan(self, code: str) -> Plan:
        """The plan `code`.

        Raises:
            NotFound: for an unknown code.
        """
        try:
            return self._plans[code]
        except KeyError:
            raise NotFound("plan", code) from None

    def bundle(self, code: str) -> AddOnBundle:
        """The add-on bundle `code`.

        Raises:
            NotFound: for an unknown code.
        """
        try:
            return self._bundles[code]
        except KeyError:
            raise NotFound("bundle", code) from None

    def number_offer(self, code: str) -> NumberOffer:
        """The number offer `code`.

        Raises:
            NotFound: for an unknown code.
        """
        try:
            return self._number_offers[code]
        except KeyError:
            raise NotFound("number offer", code) from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "<data>") -> Catalog:
        """Validate `data` (the parsed file) and build the catalog.

        Raises:
            CatalogError: naming `source` and the first field that does not validate.
        """
        try:
            schema = CatalogSchema.model_validate(data)
        except pydantic.ValidationError as exc:
            where, value, message = first_error(exc.errors())
            raise CatalogError(source, where, value, message) from None
        try:
            plans, bundles, offers = schema.to_domain()
            return cls(plans=plans, bundles=bundles, number_offers=offers)
        except ValidationError as exc:  # a domain rule, or a duplicate code (a CatalogError)
            raise CatalogError(source, exc.field, exc.value, exc.reason) from None

    @classmethod
    def from_file(cls, path: str | Path) -> Catalog:
        """Read a catalog from a ``.toml`` or ``.json`` file.

        Raises:
            CatalogError: for a file that cannot be read or parsed, or that does not validate;
                the message names the file and the field.
        """
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CatalogError(str(path), "<file>", str(path), exc.strerror or str(exc)) from None
        if path.suffix not in (".json", ".toml"):
            raise CatalogError(str(path), "<file>", path.suffix, "expected .toml or .json")
        try:
            data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode())
        except (ValueError, UnicodeDecodeError) as exc:
            raise CatalogError(str(path), "<file>", str(path), f"cannot parse: {exc}") from None
        if not isinstance(data, dict):
            raise CatalogError(str(path), "<root>", data, "expected a table/object")
        return cls.from_mapping(data, source=str(path))
