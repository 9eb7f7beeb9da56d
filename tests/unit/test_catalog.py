"""Catalog: plans, bundles and number offers read from TOML or JSON, and refused when broken."""

from __future__ import annotations

import itertools
import json
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minutebill import (
    AddOnBundle,
    BillingIncrement,
    BillingInterval,
    BundleValidity,
    Capability,
    Catalog,
    CatalogError,
    Money,
    NotFound,
    NumberOffer,
    OverageMode,
    OveragePolicy,
    Plan,
    PlanFeatures,
    ValidationError,
    ValidityKind,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "catalog.toml"
EXAMPLE_TEXT = EXAMPLE.read_text(encoding="utf-8")


def inr(amount: str) -> Money:
    return Money(amount, "INR")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_file(EXAMPLE)


# --- the example catalog ----------------------------------------------------------------------


def test_the_example_has_a_pro_plan_and_two_more_tiers(catalog: Catalog) -> None:
    pro = catalog.plan("pro")
    assert pro.name == "Pro"
    assert pro.price == inr("7999.00")
    assert pro.interval == BillingInterval.monthly()
    assert len(catalog.plans) >= 3
    # Higher tiers (by price) give more minutes, concurrent calls, numbers and queue priority.
    tiers = sorted(catalog.plans, key=lambda plan: plan.price)
    for lower, higher in itertools.pairwise(tiers):
        assert higher.included_minutes > lower.included_minutes
        assert higher.features.concurrent_calls > lower.features.concurrent_calls
        assert higher.features.phone_numbers > lower.features.phone_numbers
        assert higher.features.queue_priority > lower.features.queue_priority


def test_the_example_has_the_spec_bundles_in_inr(catalog: Catalog) -> None:
    minutes = {(b.code, b.name): b.minutes for b in catalog.bundles}
    assert minutes == {("nexus", "Nexus"): 300, ("pro", "Pro"): 150, ("elite", "Elite"): 100}
    assert catalog.bundle("nexus").seconds == 300 * 60
    for bundle in catalog.bundles:
        assert bundle.price.currency == "INR"
        assert bundle.price.is_rounded()
        assert bundle.price > inr("0")
    assert catalog.bundle("nexus").validity == BundleValidity.plan_period()
    assert catalog.bundle("elite").validity == BundleValidity.for_days(30)


def test_the_example_has_an_indian_local_number_with_voice_and_sms(catalog: Catalog) -> None:
    offer = catalog.number_offer("in-local")
    assert (offer.country, offer.kind) == ("IN", "local")
    assert offer.capabilities == frozenset({Capability.VOICE, Capability.SMS})
    assert offer.monthly_fee == inr("500.00")
    assert offer.upfront_fee == inr("1000.00")
    assert offer.interval == BillingInterval.monthly()


def test_plan_features_and_overage_come_from_the_file(catalog: Catalog) -> None:
    pro = catalog.plan("pro")
    assert pro.features.rating == BillingIncrement.PER_MINUTE
    assert pro.features.overage == OveragePolicy.charge_wallet(inr("1.50"))
    assert catalog.plan("starter").features.overage.blocks
    assert catalog.plan("enterprise").features.rating == BillingIncrement.SIXTY_SIX
    assert pro.included_seconds == 5000 * 60


def test_items_keep_file_order(catalog: Catalog) -> None:
    assert [p.code for p in catalog.plans] == ["starter", "pro", "enterprise"]
    assert [b.code for b in catalog.bundles] == ["nexus", "pro", "elite"]


def test_the_same_catalog_as_json_loads_equal(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(tomllib.loads(EXAMPLE_TEXT)), encoding="utf-8")
    assert Catalog.from_file(path) == catalog
    assert Catalog.from_file(str(path)) == catalog
    assert Catalog.from_mapping(tomllib.loads(EXAMPLE_TEXT)) == catalog


@pytest.mark.parametrize(
    ("lookup", "kind"),
    [(Catalog.plan, "plan"), (Catalog.bundle, "bundle"), (Catalog.number_offer, "number offer")],
)
def test_unknown_codes_are_not_found(catalog: Catalog, lookup: Any, kind: str) -> None:
    with pytest.raises(NotFound) as caught:
        lookup(catalog, "platinum")
    assert (caught.value.kind, caught.value.key) == (kind, "platinum")
    assert "platinum" in str(caught.value)
    assert isinstance(caught.value, LookupError)


# --- broken files -----------------------------------------------------------------------------


def broken(old: str, new: str) -> str:
    """The example file with `old` (which must occur once) replaced by `new`."""
    assert EXAMPLE_TEXT.count(old) == 1, old
    return EXAMPLE_TEXT.replace(old, new)


BROKEN_TOML = {
    "missing field": (broken("included_minutes = 5000\n", ""), "plans[1].included_minutes"),
    "negative minutes": (broken("minutes = 300\n", "minutes = -300\n"), "bundles[0].minutes"),
    "negative plan minutes": (
        broken("included_minutes = 1000\n", "included_minutes = -1\n"),
        "plans[0].included_minutes",
    ),
    "float price": (broken('price = "7999.00"', "price = 7999.00"), "plans[1].price"),
    "negative price": (broken('price = "449.00"', 'price = "-449.00"'), "bundles[0].price"),
    "price finer than a paisa": (
        broken('price = "449.00"', 'price = "449.005"'),
        "bundles[0].price",
    ),
    "non-numeric price": (broken('price = "449.00"', 'price = "free"'), "bundles[0].price"),
    "price with a huge exponent": (
        broken('price = "1999.00"', 'price = "1E+999999999999999999"'),
        "plans[0].price",
    ),
    "price too large to write out": (
        broken('price = "1999.00"', 'price = "1E+99999999999"'),
        "plans[0].price",
    ),
    "price beyond 18 digits of paise": (
        broken('price = "449.00"', 'price = "10000000000000000.00"'),
        "bundles[0].price",
    ),
    "price finer than 1E-40": (
        broken('price = "449.00"', 'price = "0E-999999999999999999"'),
        "bundles[0].price",
    ),
    "overage rate with a huge exponent": (
        broken(
            'rate_per_minute = "1.50"',
            'rate_per_minute = "1E+999999999"',
        ),
        "plans[1].overage.rate_per_minute",
    ),
    "unknown currency": (broken('currency = "INR"', 'currency = "XYZ"'), "currency"),
    "unknown capability": (
        broken('capabilities = ["voice", "sms"]', 'capabilities = ["voice", "fax"]'),
        "number_offers[0].capabilities[1]",
    ),
    "duplicate code": (broken('code = "elite"', 'code = "nexus"'), "bundles[2].code"),
    "unknown field": (
        broken("queue_priority = 5\n", "queue_priority = 5\ncolour = 1\n"),
        "plans[1].colour",
    ),
    "bad rating": (broken('rating = "60/6"', 'rating = "60/x"'), "plans[2].rating"),
    "string interval": (
        broken(
            'price = "1999.00"\ninterval_months = 1\n',
            'price = "1999.00"\ninterval_months = "1"\n',
        ),
        "plans[0].interval_months",
    ),
    "overage rate under block": (
        broken(
            'overage = { mode = "block" }', 'overage = { mode = "block", rate_per_minute = "1" }'
        ),
        "plans[0].overage.rate_per_minute",
    ),
    "bad validity": (broken("validity = 30", "validity = 0"), "bundles[2].validity"),
}


@pytest.mark.parametrize(("text", "field"), BROKEN_TOML.values(), ids=BROKEN_TOML.keys())
def test_a_broken_file_names_the_file_and_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        Catalog.from_file(path)
    error = caught.value
    assert error.path == str(path)
    assert error.field == field
    assert str(path) in str(error)
    assert field in str(error)
    assert isinstance(error, ValidationError)


def test_a_float_price_in_json_is_refused_too(tmp_path: Path) -> None:
    data = tomllib.loads(EXAMPLE_TEXT)
    data["plans"][1]["price"] = 7999.0
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        Catalog.from_file(path)
    assert (caught.value.path, caught.value.field, caught.value.value) == (
        str(path),
        "plans[1].price",
        7999.0,
    )
    assert "float" in caught.value.reason


def test_a_missing_field_has_no_value() -> None:
    data = tomllib.loads(EXAMPLE_TEXT)
    del data["plans"][0]["name"]
    with pytest.raises(CatalogError) as caught:
        Catalog.from_mapping(data, source="plans.toml")
    assert (caught.value.path, caught.value.field, caught.value.value) == (
        "plans.toml",
        "plans[0].name",
        None,
    )


@pytest.mark.parametrize(
    ("name", "content", "field"),
    [
        ("catalog.toml", b'currency = "INR"\n[[plans]\n', "<file>"),
        ("catalog.toml", b"currency = \xff\n", "<file>"),
        ("catalog.json", b'{"currency": "INR",', "<file>"),
        ("catalog.json", b"[1, 2]", "<root>"),
        ("catalog.yaml", b"currency: INR\n", "<file>"),
        ("catalog", b'currency = "INR"\n', "<file>"),
    ],
    ids=["bad toml", "not utf-8", "bad json", "json list", "yaml suffix", "no suffix"],
)
def test_unreadable_files_name_the_file(
    tmp_path: Path, name: str, content: bytes, field: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CatalogError) as caught:
        Catalog.from_file(path)
    assert caught.value.path == str(path)
    assert caught.value.field == field
    assert str(path) in str(caught.value)


def test_a_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(CatalogError) as caught:
        Catalog.from_file(path)
    assert caught.value.path == str(path)
    assert str(path) in str(caught.value)


def test_a_directory_is_not_a_catalog(tmp_path: Path) -> None:
    with pytest.raises(CatalogError):
        Catalog.from_file(tmp_path)


def test_mappings_name_their_source() -> None:
    with pytest.raises(CatalogError) as caught:
        Catalog.from_mapping({"currency": "XYZ"})
    assert caught.value.path == "<data>"
    assert caught.value.field == "currency"


# --- properties -------------------------------------------------------------------------------

plan_entries = st.fixed_dictionaries(
    {
        "name": st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1).filter(
            str.strip
        ),
        "price": st.integers(0, 10**7).map(lambda paise: f"{paise // 100}.{paise % 100:02d}"),
        "included_minutes": st.integers(0, 10**6),
        "concurrent_calls": st.integers(1, 1000),
        "phone_numbers": st.integers(0, 1000),
        "queue_priority": st.integers(0, 100),
        "rating": st.sampled_from(["60/60", "60/6", "6/6", "1/1", "30/6/60"]),
    }
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(plan_entries, min_size=1, max_size=4))
def test_any_valid_catalog_loads_the_same_from_a_json_file_and_from_data(
    tmp_path: Path, entries: list[dict[str, Any]]
) -> None:
    data = {
        "currency": "INR",
        "plans": [{"code": f"tier-{i}", **entry} for i, entry in enumerate(entries)],
    }
    path = tmp_path / "generated.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    loaded = Catalog.from_file(path)
    assert loaded == Catalog.from_mapping(data)
    for entry, plan in zip(entries, loaded.plans, strict=True):
        assert plan.price == inr(entry["price"])
        assert plan.included_minutes == entry["included_minutes"]
        assert plan.features.rating == BillingIncrement.parse(entry["rating"])


NON_NEGATIVE_FIELDS = ["included_minutes", "phone_numbers", "queue_priority"]


@given(st.sampled_from(NON_NEGATIVE_FIELDS), st.integers(max_value=-1), st.integers(0, 2))
def test_any_negative_count_is_refused_by_name(field: str, value: int, index: int) -> None:
    data = tomllib.loads(EXAMPLE_TEXT)
    data["plans"][index][field] = value
    with pytest.raises(CatalogError) as caught:
        Catalog.from_mapping(data, source="tiers.toml")
    assert caught.value.field == f"plans[{index}].{field}"
    assert caught.value.value == value


# --- the domain values ------------------------------------------------------------------------


def features(**overrides: Any) -> PlanFeatures:
    return PlanFeatures(**{"concurrent_calls": 1, "phone_numbers": 0, **overrides})


def test_overage_charges_pro_rata_by_the_second() -> None:
    policy = OveragePolicy.charge_wallet(inr("1.50"))
    assert policy.charge_for(90) == inr("2.25")
    assert policy.charge_for(1) == inr("0.03")  # 0.025 rounds half-up
    assert OveragePolicy.block().charge_for(90) is None
    assert OveragePolicy.bill_in_arrears(inr("1.20")).mode is OverageMode.BILL_IN_ARREARS


def test_the_first_charge_is_of_the_shortest_call_that_costs_anything() -> None:
    per_second = BillingIncrement.PER_SECOND
    pro = OveragePolicy.charge_wallet(inr("1.50"))
    assert pro.first_charge(BillingIncrement.PER_MINUTE) == inr("1.50")  # the first minute
    assert pro.first_charge(per_second) == inr("0.03")  # one second
    yen = OveragePolicy.charge_wallet(Money(3, "JPY"))
    assert yen.charge_for(1) == Money(0, "JPY")  # one second prices to nothing
    assert yen.first_charge(per_second) == Money(1, "JPY")  # ten seconds do
    assert yen.first_charge(BillingIncrement.SIX_SIX) == Money(1, "JPY")  # two pulses of 6 s
    assert OveragePolicy.charge_wallet(inr("0")).first_charge(per_second) is None  # free
    assert OveragePolicy.block().first_charge(per_second) is None


@given(
    rate=st.integers(1, 5000),
    currency=st.sampled_from(["INR", "JPY", "KWD"]),
    rating=st.sampled_from(
        [
            BillingIncrement.PER_MINUTE,
            BillingIncrement.PER_SECOND,
            BillingIncrement.SIX_SIX,
            BillingIncrement.SIXTY_SIX,
        ]
    ),
)
def test_the_first_charge_matches_a_scan_of_call_lengths(
    rate: int, currency: str, rating: BillingIncrement
) -> None:
    policy = OveragePolicy.charge_wallet(Money.from_minor_units(rate, currency))
    charges = (policy.charge_for(rating.billable_for_seconds(n)) for n in range(1, 3601))
    expected = next(c for c in charges if c)
    assert policy.first_charge(rating) == expected


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: OveragePolicy(OverageMode.BLOCK, inr("1.00")), "rate_per_minute"),
        (lambda: OveragePolicy(OverageMode.CHARGE_WALLET), "rate_per_minute"),
        (lambda: OveragePolicy.charge_wallet(inr("0.005")), "rate_per_minute"),
        (lambda: features(concurrent_calls=0), "concurrent_calls"),
        (lambda: features(phone_numbers=-1), "phone_numbers"),
        (lambda: features(queue_priority=True), "queue_priority"),
        (lambda: features(overage="block"), "overage"),
        (lambda: features(overage=None), "overage"),
        (lambda: features(rating="60/60"), "rating"),
        (lambda: features(rating=60), "rating"),
        (  # its longest call (31 days, 60/60/10**18) would cost more than an amount holds
            lambda: features(
                overage=OveragePolicy.charge_wallet(inr("1.50")),
                rating=BillingIncrement(60, 60, 10**18),
            ),
            "rate_per_minute",
        ),
        (
            lambda: Plan("", "Pro", inr("1.00"), BillingInterval.monthly(), 1, features()),
            "code",
        ),
        (
            lambda: Plan("pro", "Pro", inr("1.001"), BillingInterval.monthly(), 1, features()),
            "price",
        ),
        (
            lambda: Plan("pro", "Pro", inr("-1.00"), BillingInterval.monthly(), 1, features()),
            "price",
        ),
        (
            lambda: Plan("pro", "Pro", inr("1.00"), BillingInterval.monthly(), -1, features()),
            "included_minutes",
        ),
        (
            lambda: Plan("pro", "Pro", inr("1.00"), "monthly", 1, features()),  # type: ignore[arg-type]
            "interval",
        ),
        (
            lambda: Plan("pro", "Pro", inr("1.00"), BillingInterval.monthly(), 1, "pro"),  # type: ignore[arg-type]
            "features",
        ),
        (lambda: AddOnBundle("nexus", "Nexus", 0, inr("1.00")), "minutes"),
        (lambda: AddOnBundle("nexus", "Nexus", 300, inr("1.00"), "never"), "validity"),  # type: ignore[arg-type]
        (lambda: BundleValidity("never"), "kind"),  # type: ignore[arg-type]
        (lambda: BundleValidity("days", 30), "kind"),  # type: ignore[arg-type]
        (lambda: AddOnBundle("nexus", "Nexus", 300, "449.00"), "price"),  # type: ignore[arg-type]
        (lambda: BundleValidity.for_days(0), "days"),
        (lambda: BundleValidity(ValidityKind.PLAN_PERIOD, 30), "days"),
        (lambda: BundleValidity(ValidityKind.NEVER, 30), "days"),
        (
            lambda: NumberOffer(
                "x", "India", "local", frozenset({Capability.VOICE}), inr("1"), inr("1")
            ),
            "country",
        ),
        (lambda: NumberOffer("x", "IN", "local", frozenset(), inr("1"), inr("1")), "capabilities"),
        (
            lambda: NumberOffer(
                "x", "IN", "local", frozenset({Capability.SMS}), inr("1"), Money(1, "USD")
            ),
            "upfront_fee",
        ),
        (
            lambda: NumberOffer(
                "x",
                "IN",
                "local",
                frozenset({Capability.SMS}),
                inr("1"),
                inr("1"),
                1,  # type: ignore[arg-type]
            ),
            "interval",
        ),
    ],
)
def test_domain_values_refuse_bad_input(build: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.field == field


def test_bundle_validity_kinds() -> None:
    assert BundleValidity.for_days(30).duration == timedelta(days=30)
    assert BundleValidity.plan_period().duration is None
    assert BundleValidity.never_expires().duration is None
