"""交强险 premium, floating rate and limits against hand-computed figures (domain-reference §1)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epolicy.common.errors import ApplicationError
from epolicy.products.tables import load_ctpl_tables
from epolicy.rules.motor.ctpl import (
    FLOATING_CODES,
    CtplInput,
    CtplTables,
    FloatingTable,
    ctpl_limits,
    ctpl_quote,
    floating_code_from_history,
)

ON = date(2026, 3, 1)
PRE_REFORM = date(2019, 6, 1)


def quote(on: date = ON, **kwargs):
    inp = CtplInput(on=on, **{"region_code": "340000", **kwargs})
    return ctpl_quote(inp, load_ctpl_tables(on))


# (id, input, base premium, floating rate, premium) -- the arithmetic is in the comment of each row.
GOLDEN = [
    # 家庭自用 5 seats, 安徽 (plan E) A3: 950 × (1 − 0.30) = 665.00  [S9]
    ("anhui_a3", dict(use_category="family_private", seats=5, floating_code="A3"), "950", "-0.30", "665.00"),
    # 内蒙古 (plan A) A3: 950 × (1 − 0.50) = 475.00  [S9]
    (
        "neimenggu_a3",
        dict(use_category="family_private", seats=5, region_code="150000", floating_code="A3"),
        "950",
        "-0.50",
        "475.00",
    ),
    # 6 seats is the upper band: 1100 × (1 + 0.10) = 1210.00
    (
        "six_seats_a5",
        dict(use_category="family_private", seats=6, floating_code="A5"),
        "1100",
        "0.10",
        "1210.00",
    ),
    # no claims history: 950 × (1 + 0) = 950.00
    ("no_history", dict(use_category="family_private", seats=5), "950", "0", "950.00"),
    # A4 (one at-fault non-fatal accident): 950 × 1.00 = 950.00
    ("a4", dict(use_category="family_private", seats=5, floating_code="A4"), "950", "0", "950.00"),
    # A6 (fatal): 950 × 1.30 = 1235.00 (the +30% cap)
    ("a6", dict(use_category="family_private", seats=5, floating_code="A6"), "950", "0.30", "1235.00"),
    # 北京 (plan D, unconfirmed) A1: 950 × (1 − 0.15) = 807.50
    (
        "beijing_a1",
        dict(use_category="family_private", seats=5, region_code="110000", floating_code="A1"),
        "950",
        "-0.15",
        "807.50",
    ),
    # 福田区 440304 resolves to 深圳 (plan E) A2: 950 × 0.80 = 760.00
    (
        "shenzhen_district",
        dict(use_category="family_private", seats=5, region_code="440304", floating_code="A2"),
        "950",
        "-0.20",
        "760.00",
    ),
    # seat bands include the lower bound, exclude the upper: 9 → 1130, 10 → 1220, 19 → 1220, 20 → 1270
    ("enterprise_9", dict(use_category="enterprise_passenger", seats=9), "1130", "0", "1130.00"),
    ("enterprise_10", dict(use_category="enterprise_passenger", seats=10), "1220", "0", "1220.00"),
    ("enterprise_19", dict(use_category="enterprise_passenger", seats=19), "1220", "0", "1220.00"),
    ("enterprise_20", dict(use_category="enterprise_passenger", seats=20), "1270", "0", "1270.00"),
    ("government_5", dict(use_category="government_passenger", seats=5), "950", "0", "950.00"),
    ("government_20", dict(use_category="government_passenger", seats=20), "1320", "0", "1320.00"),
    # taxi 35 seats → 20–36 band 2560; 36 seats → 3530
    ("rental_35", dict(use_category="rental_passenger", seats=35), "2560", "0", "2560.00"),
    ("rental_36", dict(use_category="rental_passenger", seats=36), "3530", "0", "3530.00"),
    ("city_bus_6", dict(use_category="city_bus", seats=6), "2250", "0", "2250.00"),
    ("coach_40", dict(use_category="highway_coach", seats=40), "4690", "0", "4690.00"),
    # trucks by tonnage: 1.99 t → 1200, 2 t → 1470, 4.99 t → 1470, 5 t → 1650, 10 t → 2220
    (
        "truck_1_99",
        dict(use_category="noncommercial_truck", seats=3, tonnage=Decimal("1.99")),
        "1200",
        "0",
        "1200.00",
    ),
    (
        "truck_2",
        dict(use_category="noncommercial_truck", seats=3, tonnage=Decimal("2")),
        "1470",
        "0",
        "1470.00",
    ),
    (
        "truck_4_99",
        dict(use_category="noncommercial_truck", seats=3, tonnage=Decimal("4.99")),
        "1470",
        "0",
        "1470.00",
    ),
    (
        "truck_5",
        dict(use_category="noncommercial_truck", seats=3, tonnage=Decimal("5")),
        "1650",
        "0",
        "1650.00",
    ),
    (
        "truck_10",
        dict(use_category="noncommercial_truck", seats=3, tonnage=Decimal("10")),
        "2220",
        "0",
        "2220.00",
    ),
    (
        "comm_truck_2",
        dict(use_category="commercial_truck", seats=3, tonnage=Decimal("2")),
        "3070",
        "0",
        "3070.00",
    ),
    # trailer: 30% of the truck of the same tonnage: 8 t non-commercial 1650 × 0.30 = 495.00
    (
        "trailer_8t",
        dict(use_category="noncommercial_truck", seats=0, tonnage=Decimal("8"), is_trailer=True),
        "495.00",
        "0",
        "495.00",
    ),
    # commercial 12 t trailer, 江苏 A1: 4480 × 0.30 = 1344.00; × (1 − 0.10) = 1209.60
    (
        "trailer_12t_a1",
        dict(
            use_category="commercial_truck",
            seats=0,
            tonnage=Decimal("12"),
            is_trailer=True,
            region_code="320000",
            floating_code="A1",
        ),
        "1344.00",
        "-0.10",
        "1209.60",
    ),
    # special vehicles are flat
    ("special_1", dict(use_category="special_1", seats=2), "3710", "0", "3710.00"),
    ("special_4_a3", dict(use_category="special_4", seats=2, floating_code="A3"), "3980", "-0.30", "2786.00"),
    # motorcycles by cc, published as "50CC及以下": 50 → 80, 51 → 120, 250 → 120, 251 → 400
    ("moto_50", dict(use_category="motorcycle", seats=2, displacement_cc=50), "80", "0", "80.00"),
    ("moto_51", dict(use_category="motorcycle", seats=2, displacement_cc=51), "120", "0", "120.00"),
    ("moto_250", dict(use_category="motorcycle", seats=2, displacement_cc=250), "120", "0", "120.00"),
    ("moto_251", dict(use_category="motorcycle", seats=2, displacement_cc=251), "400", "0", "400.00"),
    # 大连 (plan E) motorcycle A2: 120 × 0.80 = 96.00
    (
        "moto_dalian_a2",
        dict(
            use_category="motorcycle", seats=2, displacement_cc=125, region_code="210200", floating_code="A2"
        ),
        "120",
        "-0.20",
        "96.00",
    ),
]


@pytest.mark.parametrize(
    ("inp", "base", "rate", "premium"), [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN]
)
def test_golden_premiums(inp, base, rate, premium):
    q = quote(**inp)
    assert q.base_premium == Decimal(base)
    assert q.floating_rate == Decimal(rate)
    assert q.premium == Decimal(premium)
    assert str(q.premium) == premium  # exactly two decimals, as printed on the policy


def test_quote_says_which_plan_region_and_tables():
    q = quote(use_category="family_private", seats=5, region_code="440304", floating_code="A3")
    assert (q.plan_code, q.region_code, q.region_name_zh) == ("E", "440300", "深圳")
    assert q.confirmed is True
    assert [v.split("@")[0] for v in q.table_versions] == [
        "ctpl_base_premium",
        "ctpl_floating",
        "ctpl_limits",
    ]
    assert "ctpl_floating@2020-09-19#" in q.table_versions[1]
    assert q.band_label_zh == "6座以下"


def test_unconfirmed_plan_is_flagged_but_no_history_is_not():
    assert (
        quote(use_category="family_private", seats=5, region_code="110000", floating_code="A1").confirmed
        is False
    )
    assert quote(use_category="family_private", seats=5, region_code="110000").confirmed is True


def test_trailer_band_label_says_trailer():
    q = quote(use_category="noncommercial_truck", seats=0, tonnage=Decimal("8"), is_trailer=True)
    assert q.band_label_zh == "5-10吨（挂车）"


def test_tractor_is_refused_with_the_reason():
    with pytest.raises(ApplicationError) as exc:
        quote(use_category="tractor", seats=1)
    assert exc.value.code == "quote_not_available"
    assert "拖拉机" in exc.value.message_zh


@pytest.mark.parametrize("region", ["999999", "810000", "710000"])
def test_region_in_no_plan_is_refused_naming_it(region):
    with pytest.raises(ApplicationError) as exc:
        quote(use_category="family_private", seats=5, region_code=region, floating_code="A1")
    assert exc.value.code == "quote_not_available"
    assert region in exc.value.message_zh
    assert exc.value.details["region_code"] == region


def test_known_region_missing_from_every_plan_is_refused_by_name():
    tables = load_ctpl_tables(ON)
    plans = tuple(
        dataclasses.replace(p, regions={k: v for k, v in p.regions.items() if k != "340000"})
        for p in tables.floating.plans
    )
    floating = FloatingTable(
        version=tables.floating.version,
        plans=plans,
        rate_floor=tables.floating.rate_floor,
        rate_cap=tables.floating.rate_cap,
    )
    cut = CtplTables(
        base_premium=tables.base_premium,
        floating=floating,
        limits=tables.limits,
        region_names=tables.region_names,
    )
    inp = CtplInput(use_category="family_private", seats=5, region_code="340000", on=ON)
    with pytest.raises(ApplicationError) as exc:
        ctpl_quote(inp, cut)
    assert exc.value.code == "quote_not_available"
    assert "安徽（340000）" in exc.value.message_zh


@pytest.mark.parametrize("region", ["34000", "3400000", "abcdef", ""])
def test_malformed_region_code_is_a_validation_error(region):
    with pytest.raises(ApplicationError) as exc:
        quote(use_category="family_private", seats=5, region_code=region)
    assert exc.value.code == "validation_error"


@pytest.mark.parametrize(
    ("inp", "code"),
    [
        (dict(use_category="city_bus", seats=5), "quote_not_available"),  # no city-bus band under 6 seats
        (dict(use_category="family_private", seats=5, is_trailer=True), "quote_not_available"),
        (dict(use_category="noncommercial_truck", seats=3), "validation_error"),  # tonnage missing
        (dict(use_category="noncommercial_truck", seats=3, tonnage=Decimal("0")), "validation_error"),
        (dict(use_category="motorcycle", seats=2), "validation_error"),  # cc missing
        (dict(use_category="family_private", seats=0), "validation_error"),
        (dict(use_category="spaceship", seats=5), "validation_error"),
    ],
)
def test_refusals(inp, code):
    with pytest.raises(ApplicationError) as exc:
        quote(**inp)
    assert exc.value.code == code


def test_date_before_every_table_is_refused():
    with pytest.raises(ApplicationError) as exc:
        load_ctpl_tables(date(2008, 1, 31))
    assert exc.value.code == "rate_table_missing"


def test_rule_refuses_tables_not_effective_on_the_quote_date():
    tables = load_ctpl_tables(ON)  # 2020 plans and limits
    inp = CtplInput(use_category="family_private", seats=5, region_code="340000", on=PRE_REFORM)
    with pytest.raises(ApplicationError) as exc:
        ctpl_quote(inp, tables)
    assert exc.value.code == "rate_table_missing"


def test_before_the_2020_reform_the_national_2007_factors_apply():
    # 内蒙古 A3 in 2019: national −30%, so 950 × 0.70 = 665.00 (not the 2020 plan A's 475.00)
    q = quote(on=PRE_REFORM, use_category="family_private", seats=5, region_code="150000", floating_code="A3")
    assert (q.plan_code, q.premium) == ("national_2007", Decimal("665.00"))
    assert q.limits.total_at_fault == Decimal("122000")


@pytest.mark.parametrize(
    ("on", "at_fault", "no_fault", "totals"),
    [
        # the day before the reform: 110000 + 10000 + 2000 = 122000; 11000 + 1000 + 100 = 12100
        (date(2020, 9, 18), ("110000", "10000", "2000"), ("11000", "1000", "100"), ("122000", "12100")),
        # from 2020-09-19: 180000 + 18000 + 2000 = 200000; 18000 + 1800 + 100 = 19900
        (date(2020, 9, 19), ("180000", "18000", "2000"), ("18000", "1800", "100"), ("200000", "19900")),
        (ON, ("180000", "18000", "2000"), ("18000", "1800", "100"), ("200000", "19900")),
        (date(2008, 2, 1), ("110000", "10000", "2000"), ("11000", "1000", "100"), ("122000", "12100")),
    ],
)
def test_limits_before_and_after_the_reform(on, at_fault, no_fault, totals):
    limits = ctpl_limits(on, load_ctpl_tables(on).limits)
    assert (limits.death_disability_at_fault, limits.medical_at_fault, limits.property_at_fault) == tuple(
        map(Decimal, at_fault)
    )
    assert (limits.death_disability_no_fault, limits.medical_no_fault, limits.property_no_fault) == tuple(
        map(Decimal, no_fault)
    )
    assert (limits.total_at_fault, limits.total_no_fault) == tuple(map(Decimal, totals))
    assert quote(on=on, use_category="family_private", seats=5).limits == limits


def test_limits_refuse_a_table_for_another_date():
    with pytest.raises(ApplicationError) as exc:
        ctpl_limits(date(2020, 9, 18), load_ctpl_tables(ON).limits)
    assert exc.value.code == "rate_table_missing"


def test_tables_and_quotes_are_immutable():
    tables = load_ctpl_tables(ON)
    q = quote(use_category="family_private", seats=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.premium = Decimal("1")  # type: ignore[misc]
    with pytest.raises(TypeError):
        tables.base_premium.classes["family_private"] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        tables.floating.plans[0].rates["A1"] = Decimal("-0.90")  # type: ignore[index]


@pytest.mark.parametrize(
    ("claim_free", "at_fault", "fatal", "expected"),
    [
        (0, 0, False, None),  # no history (new vehicle)
        (1, 0, False, "A1"),
        (2, 0, False, "A2"),
        (3, 0, False, "A3"),
        (10, 0, False, "A3"),
        (0, 1, False, "A4"),
        (0, 2, False, "A5"),
        (0, 5, False, "A5"),
        (0, 1, True, "A6"),
        (0, 3, True, "A6"),  # the higher loading wins
    ],
)
def test_floating_code_from_history(claim_free, at_fault, fatal, expected):
    assert floating_code_from_history(claim_free, at_fault, fatal) == expected


@pytest.mark.parametrize(
    ("claim_free", "at_fault", "fatal"), [(-1, 0, False), (0, -1, False), (0, 0, True), (2, 1, False)]
)
def test_floating_code_from_inconsistent_history_is_refused(claim_free, at_fault, fatal):
    with pytest.raises(ApplicationError) as exc:
        floating_code_from_history(claim_free, at_fault, fatal)
    assert exc.value.code == "validation_error"


# ---------------------------------------------------------------------------------------------- invariants

_CTPL_REGIONS = sorted(load_ctpl_tables(ON).region_names)
_PRICED = {
    "family_private": "seats",
    "enterprise_passenger": "seats",
    "government_passenger": "seats",
    "rental_passenger": "seats",
    "city_bus": "seats",
    "highway_coach": "seats",
    "noncommercial_truck": "tonnage",
    "commercial_truck": "tonnage",
    "special_1": "flat",
    "special_2": "flat",
    "special_3": "flat",
    "special_4": "flat",
    "motorcycle": "cc",
    "motorcycle_sidecar": "flat",
}


def test_every_shipped_class_is_covered_by_the_invariants():
    classes = load_ctpl_tables(ON).base_premium.classes
    assert set(classes) - {"tractor"} == set(_PRICED)


@settings(max_examples=400, deadline=None)
@given(
    category=st.sampled_from(sorted(_PRICED)),
    seats=st.integers(min_value=6, max_value=80),
    tonnage=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("60"), places=2),
    cc=st.integers(min_value=1, max_value=2000),
    trailer=st.booleans(),
    region=st.sampled_from(_CTPL_REGIONS),
    code=st.sampled_from((None, *FLOATING_CODES)),
    on=st.dates(min_value=date(2008, 2, 1), max_value=date(2035, 12, 31)),
)
def test_premium_within_half_and_one_point_three_of_base(
    category, seats, tonnage, cc, trailer, region, code, on
):
    basis = _PRICED[category]
    q = quote(
        on=on,
        use_category=category,
        seats=seats,
        tonnage=tonnage if basis == "tonnage" else None,
        displacement_cc=cc if basis == "cc" else None,
        is_trailer=trailer and basis == "tonnage",
        region_code=region,
        floating_code=code,
    )
    assert q.base_premium * Decimal("0.5") <= q.premium <= q.base_premium * Decimal("1.3")
    assert q.premium.as_tuple().exponent == -2  # at most two decimals, always printed with two
    assert q.premium == q.premium.quantize(Decimal("0.01"))


@pytest.mark.parametrize("on", [PRE_REFORM, ON])
def test_floating_rates_are_ordered_in_every_plan(on):
    # Fewer claims can never cost more: A3 ≤ A2 ≤ A1 ≤ 0 = A4 ≤ A5 ≤ A6 in every plan.
    for plan in load_ctpl_tables(on).floating.plans:
        r = plan.rates
        assert r["A3"] <= r["A2"] <= r["A1"] <= Decimal(0) == r["A4"] <= r["A5"] <= r["A6"], plan.code
