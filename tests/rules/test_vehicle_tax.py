"""车船税 for passenger cars ≤ 9 seats against hand-computed figures (domain-reference §2)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epolicy.common.errors import ApplicationError
from epolicy.products.tables import load_vehicle_tax_table
from epolicy.rules.motor.vehicle_tax import (
    ClassAmounts,
    RegionalSchedule,
    VehicleTaxInput,
    VehicleTaxTable,
    vehicle_tax,
)

ON = date(2026, 3, 1)
BEV_REASON = "新能源纯电动/燃料电池乘用车不属于车船税征税范围"


def tax(table: VehicleTaxTable | None = None, **kwargs):
    args = {"region_code": "110000", "energy_type": "fuel", "seats": 5, **kwargs}
    args["displacement_l"] = Decimal(str(args.get("displacement_l", "1.6")))
    return vehicle_tax(VehicleTaxInput(**args), table or load_vehicle_tax_table(ON))


# Beijing schedule [S16]; each band includes its upper bound.
@pytest.mark.parametrize(
    ("displacement", "band", "annual"),
    [
        ("0.8", "le1.0", "300"),
        ("1.0", "le1.0", "300"),  # 1.0 is the top of the first band
        ("1.01", "1.0-1.6", "420"),
        ("1.6", "1.0-1.6", "420"),  # 1.6 → 420
        ("1.61", "1.6-2.0", "480"),  # just over → next band
        ("2.0", "1.6-2.0", "480"),
        ("2.01", "2.0-2.5", "900"),
        ("2.5", "2.0-2.5", "900"),
        ("3.0", "2.5-3.0", "1920"),
        ("4.0", "3.0-4.0", "3480"),
        ("4.01", "gt4.0", "5280"),
        ("6.75", "gt4.0", "5280"),
    ],
)
def test_beijing_schedule_by_band(displacement, band, annual):
    q = tax(displacement_l=displacement)
    assert q.band_code == band
    assert q.annual_amount == Decimal(annual)
    assert q.amount == Decimal(annual)  # 12 months
    assert str(q.amount) == f"{annual}.00"
    assert (q.exemption, q.reason_zh, q.confirmed, q.demo) == (None, None, True, False)


@pytest.mark.parametrize(
    ("kwargs", "annual", "amount"),
    [
        # 480 × 7 / 12 = 280.00
        (dict(displacement_l="2.0", months=7), "480.00", "280.00"),
        # 420 × 7 / 12 = 245.00
        (dict(displacement_l="1.6", months=7), "420.00", "245.00"),
        # 300 × 1 / 12 = 25.00
        (dict(displacement_l="1.0", months=1), "300.00", "25.00"),
        # energy-saving pays half: 420 × 0.5 = 210.00
        (dict(displacement_l="1.6", energy_type="energy_saving"), "210.00", "210.00"),
        # half and prorated: 420 × 0.5 = 210; 210 × 7 / 12 = 122.50
        (dict(displacement_l="1.6", energy_type="energy_saving", months=7), "210.00", "122.50"),
        # 上海 demo schedule 1.6–2.0 L = 450; half = 225; 225 × 5 / 12 = 93.75
        (
            dict(region_code="310000", displacement_l="1.8", energy_type="energy_saving", months=5),
            "225.00",
            "93.75",
        ),
    ],
)
def test_treatment_and_months(kwargs, annual, amount):
    q = tax(**kwargs)
    assert q.annual_amount == Decimal(annual)
    assert q.amount == Decimal(amount)
    assert str(q.amount) == amount


@pytest.mark.parametrize("energy", ["bev", "fcev"])
def test_pure_electric_and_fuel_cell_are_out_of_scope(energy):
    q = tax(energy_type=energy, displacement_l="0")
    assert (q.annual_amount, q.amount) == (Decimal("0.00"), Decimal("0.00"))
    assert q.exemption == "out_of_scope"
    assert q.reason_zh == BEV_REASON
    assert q.band_code is None


def test_out_of_scope_needs_no_regional_schedule():
    q = tax(energy_type="bev", displacement_l="0", region_code="650000")  # 新疆: no schedule configured
    assert (q.amount, q.exemption, q.region_name_zh) == (Decimal("0.00"), "out_of_scope", "新疆")


def test_plug_in_hybrid_is_exempt_and_shows_the_amount_relieved():
    q = tax(energy_type="phev", displacement_l="1.5")
    assert (q.annual_amount, q.amount, q.exemption) == (Decimal("0.00"), Decimal("0.00"), "exempt")
    assert q.schedule_amount == Decimal("420")  # what a fuel car of the band pays in Beijing
    assert q.reason_zh


def test_energy_saving_reason_and_code():
    q = tax(energy_type="energy_saving", displacement_l="1.4")
    assert (q.exemption, q.schedule_amount) == ("half", Decimal("420"))
    assert "减半" in (q.reason_zh or "")


def test_district_codes_fall_back_to_the_province_schedule():
    assert tax(region_code="110105").region_code == "110000"  # 朝阳区 → 北京
    q = tax(region_code="440300", displacement_l="1.5")  # 深圳 follows 广东's (demo) schedule
    assert (q.region_code, q.region_name_zh, q.annual_amount) == ("440000", "广东", Decimal("360.00"))
    assert (q.demo, q.confirmed) == (True, False)


def test_region_without_schedule_is_refused_naming_it():
    with pytest.raises(ApplicationError) as exc:
        tax(region_code="650000")
    assert exc.value.code == "quote_not_available"
    assert "新疆（650000）" in exc.value.message_zh


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        (dict(seats=10), "validation_error"),  # more than 9 seats: a 客车, not a 乘用车 (details.field)
        (dict(months=0), "validation_error"),
        (dict(months=13), "validation_error"),
        (dict(seats=0), "validation_error"),
        (dict(displacement_l="0"), "validation_error"),  # a fuel car has an engine
        (dict(displacement_l="-1"), "validation_error"),
        (dict(region_code="1100"), "validation_error"),
        (dict(energy_type="steam"), "validation_error"),
    ],
)
def test_refusals(kwargs, code):
    with pytest.raises(ApplicationError) as exc:
        tax(**kwargs)
    assert exc.value.code == code


def _with_beijing_amount(band: str, amount: str) -> VehicleTaxTable:
    table = load_vehicle_tax_table(ON)
    bj = table.schedules["110000"]
    cars = bj.classes["passenger"]
    cars = dataclasses.replace(cars, amounts={**cars.amounts, band: Decimal(amount)})
    schedules = dict(table.schedules)
    schedules["110000"] = dataclasses.replace(bj, classes={**bj.classes, "passenger": cars})
    return dataclasses.replace(table, schedules=schedules)


@pytest.mark.parametrize(
    ("months", "energy", "amount"),
    [
        # 361 × 1 / 12 = 30.0833… → 30.08
        (1, "fuel", "30.08"),
        # 361 × 5 / 12 = 150.4166… → 150.42
        (5, "fuel", "150.42"),
        # half: 180.50; 180.50 × 1 / 12 = 15.0416… → 15.04
        (1, "energy_saving", "15.04"),
        # half: 180.50; 180.50 × 7 / 12 = 105.2916… → 105.29
        (7, "energy_saving", "105.29"),
    ],
)
def test_proration_rounds_half_up_to_the_fen(months, energy, amount):
    table = _with_beijing_amount("1.0-1.6", "361")
    assert tax(table, displacement_l="1.5", months=months, energy_type=energy).amount == Decimal(amount)


def test_table_refuses_a_regional_amount_outside_the_national_range():
    with pytest.raises(ValueError, match="national range"):
        _with_beijing_amount("1.0-1.6", "541")  # 1.0–1.6 L: 300–540
    with pytest.raises(ValueError, match="national range"):
        _with_beijing_amount("le1.0", "59")  # ≤1.0 L: 60–360
    _with_beijing_amount("le1.0", "60")  # the bounds themselves are lawful
    _with_beijing_amount("le1.0", "360")


def test_table_refuses_an_incomplete_schedule():
    table = load_vehicle_tax_table(ON)
    bj = table.schedules["110000"]
    cars = ClassAmounts(amounts={"le1.0": Decimal("300")})
    partial = RegionalSchedule(
        region_code="110000", region_name="北京", classes={**bj.classes, "passenger": cars}
    )
    with pytest.raises(ValueError, match="missing"):
        dataclasses.replace(table, schedules={"110000": partial})


# ---------------------------------------------------------------------------------------------- invariants

_TABLE = load_vehicle_tax_table(ON)


def test_every_configured_amount_is_inside_the_national_range():
    for schedule in _TABLE.schedules.values():
        for band in _TABLE.bands:
            amount = schedule.classes["passenger"].amounts[band.code]
            assert band.national_min <= amount <= band.national_max, (schedule, band)


@settings(max_examples=400, deadline=None)
@given(
    region=st.sampled_from(sorted(_TABLE.schedules)),
    displacement=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("8.00"), places=2),
    months=st.integers(min_value=1, max_value=12),
    energy=st.sampled_from(["fuel", "energy_saving", "phev", "bev", "fcev"]),
)
def test_tax_stays_inside_the_national_range(region, displacement, months, energy):
    q = tax(region_code=region, displacement_l=displacement, months=months, energy_type=energy)
    band = next(b for b in _TABLE.bands if b.code == q.band_code) if q.band_code else None
    if energy == "fuel":
        assert band is not None
        assert band.national_min <= q.annual_amount <= band.national_max
    elif energy == "energy_saving":
        assert band is not None
        assert band.national_min / 2 <= q.annual_amount <= band.national_max / 2
    else:
        assert q.annual_amount == 0
    assert Decimal(0) <= q.amount <= q.annual_amount
    assert q.amount.as_tuple().exponent == -2
    # prorating never drifts more than half a fen from the exact fraction
    assert abs(q.amount - q.annual_amount * months / Decimal(12)) <= Decimal("0.005")
    if band is not None:
        # the band found is the one whose (lower, upper] holds the displacement
        assert (band.lower_l or 0) < displacement and (band.upper_l is None or displacement <= band.upper_l)
