"""商业车险 premium against hand-computed figures, refusals and invariants (domain-reference §3, II.1–II.3).

The pure premiums are the DEMO figures of commercial_rates.yaml; the arithmetic is in the comments.
Line premium = to_fen(pure ÷ (1 − loading) × NCD × 自主定价系数 × 交通违法系数), once per line.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epolicy.common.errors import ApplicationError
from epolicy.common.money import to_fen
from epolicy.products.commercial_tables import load_commercial_tables
from epolicy.rules.motor.commercial import (
    USE_CATEGORIES,
    VEHICLE_KINDS,
    CommercialInput,
    CommercialQuote,
    CoverageRequest,
    Vehicle,
    actual_value,
    commercial_quote,
    months_in_use,
    ncd_level,
)

ON = date(2026, 3, 1)
D = Decimal
ZERO = Decimal(0)


def car(**kwargs: Any) -> Vehicle:
    fields: dict[str, Any] = {
        "kind": "passenger_small",
        "use": "family_private",
        "energy": "fuel",
        "seats": 5,
        "purchase_price": D(200000),
        "first_registered": date(2023, 1, 15),
    }
    fields.update(kwargs)
    return Vehicle(**fields)


def cover(code: str, **kwargs: Any) -> CoverageRequest:
    return CoverageRequest(code=code, **kwargs)


def quote(*coverages: CoverageRequest, vehicle: Vehicle | None = None, **kwargs: Any) -> CommercialQuote:
    fields: dict[str, Any] = {
        "vehicle": vehicle or car(),
        "start": ON,
        "region_code": "440106",
        "coverages": coverages,
        "ncd_level": 0,
        "pricing_coefficient": D(1),
    }
    fields.update(kwargs)
    inp = CommercialInput(**fields)
    return commercial_quote(inp, load_commercial_tables(inp.start))


def lines(q: CommercialQuote) -> dict[str, Decimal]:
    return {(f"{ln.code}@{ln.parent}" if ln.is_rider else ln.code): ln.premium for ln in q.lines}


def refusal(*coverages: CoverageRequest, **kwargs: Any) -> list[dict[str, str]]:
    with pytest.raises(ApplicationError) as exc:
        quote(*coverages, **kwargs)
    assert exc.value.code == "validation_error"
    assert exc.value.status == 422
    errors = exc.value.details["errors"]
    assert all(set(e) == {"field", "code", "message"} for e in errors)
    assert str(len(errors)) in exc.value.message_zh
    return errors


def codes(errors: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in errors]


# ============================================================================ golden quotes


def test_beijing_fuel_family_car_every_main_coverage_and_iac_riders():
    # 北京 110105 → 110000: loading 0.25, 11-level NCD (−1 = 0.8), traffic 1.0–1.45.
    # Multiplier = NCD 0.8 × 自主定价 0.9 × 交通违法 1.1 = 0.792; divisor 1 − 0.25 = 0.75.
    # 实际价值: 2023-01-15 → 2026-03-01 = 37 whole months (the 15th has not come round in March);
    # 200000 × 37 × 0.60% = 44400 → 155600.00.
    q = quote(
        cover("damage"),
        cover("third_party", amount=D(1000000)),
        cover("driver", amount=D(50000)),
        cover("passenger", amount=D(20000), seats=4),
        cover("deductible", parent="damage", rate=D("0.10")),
        cover("engine_water_exclusion"),
        cover("scratch", amount=D(5000)),
        cover("holiday_double"),
        cover("value_added_services", services={"road_rescue": 2}),
        region_code="110105",
        ncd_level=-1,
        pricing_coefficient=D("0.9"),
        traffic_coefficient=D("1.1"),
    )
    assert q.actual_value is not None
    assert (q.actual_value.months, q.actual_value.depreciation, q.actual_value.value) == (
        37,
        D("44400.00"),
        D("155600.00"),
    )
    assert (q.region_code, q.region_name_zh, q.clause_set) == ("110000", "北京", "iac2020")
    assert (q.ncd_level, q.ncd_coefficient, q.pricing_coefficient, q.traffic_coefficient) == (
        -1,
        D("0.8"),
        D("0.9"),
        D("1.1"),
    )
    assert q.expense_loading == D("0.25")
    assert lines(q) == {
        # 车损: 300 + 0.0090 × 155600 = 1700.40; ÷ 0.75 = 2267.20; × 0.792 = 1795.6224 → 1795.62
        "damage": D("1795.62"),
        # 三者 100万: 600 × 2.06 = 1236; ÷ 0.75 = 1648; × 0.792 = 1305.216 → 1305.22
        "third_party": D("1305.22"),
        # 驾驶人 5万: 0.0030 × 50000 = 150; ÷ 0.75 = 200; × 0.792 = 158.40
        "driver": D("158.40"),
        # 乘客 2万 × 4 座: 0.0020 × 20000 × 4 = 160; ÷ 0.75 × 0.792 = 168.96
        "passenger": D("168.96"),
        # 免赔率 10% on 车损: to_fen(1795.6224 × 0.90) − 1795.62 = 1616.06 − 1795.62 = −179.56
        "deductible@damage": D("-179.56"),
        # 发动机进水除外 5% more: to_fen(1795.6224 × 0.85) − 1616.06 = 1526.28 − 1616.06 = −89.78
        "engine_water_exclusion@damage": D("-89.78"),
        # 划痕 5000: 570; ÷ 0.75 = 760; × 0.792 = 601.92
        "scratch@damage": D("601.92"),
        # 节假日翻倍: 0.06 × 1236 = 74.16; ÷ 0.75 = 98.88; × 0.792 = 78.31296 → 78.31
        "holiday_double@third_party": D("78.31"),
        # 增值服务 道路救援 × 2: 30 × 2 = 60; ÷ 0.75 = 80; × 0.792 = 63.36
        "value_added_services@None": D("63.36"),
    }
    # 1795.62 + 1305.22 + 158.40 + 168.96 − 179.56 − 89.78 + 601.92 + 78.31 + 63.36
    assert q.total == D("3902.45")
    damage = q.lines[0]
    assert (damage.name_zh, damage.amount, damage.deductible_rate) == (
        "机动车损失保险",
        D("155600.00"),
        D("0.10"),
    )
    assert (damage.pure_premium, damage.base_premium) == (D("1700.40"), D("2267.20"))
    passenger = next(ln for ln in q.lines if ln.code == "passenger")
    assert (passenger.amount, passenger.seats, passenger.base_premium) == (D(20000), 4, D("213.33"))
    # Lines are grouped: main coverages first, then riders by their parent's order.
    assert [ln.code for ln in q.lines][:4] == ["damage", "third_party", "driver", "passenger"]
    holiday = next(ln for ln in q.lines if ln.code == "holiday_double")
    assert holiday.amount == D(1000000)


def test_guangdong_non_commercial_car_without_traffic_coefficient_and_the_other_riders():
    # 广东 440106 (天河区) → 440000: loading 0.20 (÷ 0.8), 10-level NCD (+2 = 1.4), no 交通违法系数.
    # Multiplier = 1.4 × 1.1 = 1.54.
    # 实际价值: 2019-06-30 → 2026-03-01 = 80 whole months; 80 × 0.60% = 48% → 150000 − 72000 = 78000.
    q = quote(
        cover("damage"),
        cover("third_party", amount=D(2000000)),
        cover("driver", amount=D(10000)),
        cover("passenger", amount=D(10000), seats=6),
        cover("deductible", parent="third_party", rate=D("0.05")),
        cover("wheel", amount=D(5000)),
        cover("new_equipment", amount=D(10000)),
        cover("repair_compensation", days=30, daily_amount=D(200)),
        cover("cargo", amount=D(20000)),
        cover("mental_distress", parent="passenger", amount=D(10000)),
        cover("mental_distress", parent="third_party", amount=D(50000)),
        cover("medical_outside_insurance", parent="third_party", amount=D(20000)),
        vehicle=car(
            use="non_commercial", seats=7, purchase_price=D(150000), first_registered=date(2019, 6, 30)
        ),
        ncd_level=2,
        pricing_coefficient=D("1.1"),
    )
    assert q.actual_value is not None and q.actual_value.value == D("78000.00")
    assert (q.region_code, q.traffic_coefficient, q.ncd_coefficient, q.expense_loading) == (
        "440000",
        None,
        D("1.4"),
        D("0.20"),
    )
    assert lines(q) == {
        # 车损: 280 + 0.0085 × 78000 = 943; ÷ 0.8 = 1178.75; × 1.54 = 1815.275 → 1815.28 (half up)
        "damage": D("1815.28"),
        # 三者 200万: 650 × 2.48 = 1612; ÷ 0.8 = 2015; × 1.54 = 3103.10
        "third_party": D("3103.10"),
        # 驾驶人 1万: 30; ÷ 0.8 = 37.5; × 1.54 = 57.75
        "driver": D("57.75"),
        # 乘客 1万 × 6 座 (7 − 1): 0.0020 × 10000 × 6 = 120; ÷ 0.8 = 150; × 1.54 = 231.00
        "passenger": D("231.00"),
        # 免赔率 5% on 三者: to_fen(3103.10 × 0.95) − 3103.10 = 2947.95 − 3103.10 = −155.15
        "deductible@third_party": D("-155.15"),
        # 车轮 5000: 0.03 × 5000 = 150; ÷ 0.8 × 1.54 = 288.75
        "wheel@damage": D("288.75"),
        # 新增设备 10000: 0.012 × 10000 = 120 → 231.00
        "new_equipment@damage": D("231.00"),
        # 修理期间 30 天 × 200: 0.07 × 6000 = 420; ÷ 0.8 = 525; × 1.54 = 808.50
        "repair_compensation@damage": D("808.50"),
        # 车上货物 2万: 0.015 × 20000 = 300 → 375 → 577.50
        "cargo@third_party": D("577.50"),
        # 精神损害 on 乘客 1万: 0.012 × 10000 = 120 → 231.00; on 三者 5万: 600 → 750 → 1155.00
        "mental_distress@passenger": D("231.00"),
        "mental_distress@third_party": D("1155.00"),
        # 医保外 on 三者 2万: 0.01 × 20000 = 200 → 250 → 385.00
        "medical_outside_insurance@third_party": D("385.00"),
    }
    assert q.total == D("8728.73")
    repair = next(ln for ln in q.lines if ln.code == "repair_compensation")
    assert repair.amount == D(6000)  # 30 天 × 200 元


def test_nev_car_in_shanghai_gets_the_nev_clauses_and_riders():
    # 上海: loading 0.25, traffic 0.9–1.1 (none given → 1.0). NCD 0, 自主定价 1.0: multiplier 1.
    # Unregistered new BEV: invoice 2026-02-10 → 0 whole months → 实际价值 = 250000.
    q = quote(
        cover("damage"),
        cover("third_party", amount=D(3000000)),
        cover("grid_failure"),
        cover("charger_damage", amount=D(20000)),
        cover("charger_liability", amount=D(100000)),
        cover("holiday_double"),
        cover("nev_value_added_services", services={"road_rescue": 1, "safety_inspection": 1}),
        vehicle=car(
            energy="bev", purchase_price=D(250000), first_registered=None, invoice_date=date(2026, 2, 10)
        ),
        region_code="310000",
    )
    assert (q.clause_set, q.clause_set_name_zh) == (
        "nev2021",
        "中国保险行业协会新能源汽车商业保险专属条款（试行）",
    )
    assert q.traffic_coefficient == D(1)
    assert q.actual_value is not None and (q.actual_value.months, q.actual_value.value) == (0, D("250000"))
    assert lines(q) == {
        # 新能源车损: 350 + 0.011 × 250000 = 3100; ÷ 0.75 = 4133.333… → 4133.33
        "damage": D("4133.33"),
        # 三者 300万: 600 × 2.74 = 1644; ÷ 0.75 = 2192.00
        "third_party": D("2192.00"),
        # 外部电网故障: 0.03 × 3100 = 93; ÷ 0.75 = 124.00
        "grid_failure@damage": D("124.00"),
        # 自用充电桩损失 2万: 0.02 × 20000 = 400; ÷ 0.75 = 533.333… → 533.33
        "charger_damage@damage": D("533.33"),
        # 节假日翻倍: 0.06 × 1644 = 98.64; ÷ 0.75 = 131.52
        "holiday_double@third_party": D("131.52"),
        # 自用充电桩责任 10万: 0.008 × 100000 = 800; ÷ 0.75 = 1066.666… → 1066.67
        "charger_liability@third_party": D("1066.67"),
        # 新能源增值服务: 道路救援 40 + 安全检测 50 = 90; ÷ 0.75 = 120.00
        "nev_value_added_services@None": D("120.00"),
    }
    assert q.total == D("8300.85")
    names = {ln.code: ln.name_zh for ln in q.lines}
    assert names["damage"] == "新能源汽车损失保险"
    assert names["third_party"] == "新能源汽车第三者责任保险"
    assert names["grid_failure"] == "附加外部电网故障损失险"


def test_an_nev_before_the_nev_clauses_and_an_nev_motorcycle_take_the_2020_clauses():
    # The NEV clauses start on 2021-12-27.
    before = quote(
        cover("third_party", amount=D(100000)),
        vehicle=car(energy="phev", first_registered=date(2021, 1, 1)),
        start=date(2021, 12, 26),
    )
    after = quote(
        cover("third_party", amount=D(100000)),
        vehicle=car(energy="phev", first_registered=date(2021, 1, 1)),
        start=date(2021, 12, 27),
    )
    assert (before.clause_set, before.lines[0].name_zh) == ("iac2020", "机动车第三者责任保险")
    assert (after.clause_set, after.lines[0].name_zh) == ("nev2021", "新能源汽车第三者责任保险")
    bike = car(kind="motorcycle", use="non_commercial", seats=2, energy="bev", purchase_price=D(8000))
    q = quote(cover("third_party", amount=D(100000)), vehicle=bike)
    # 摩托车 三者 10万: 150 × 1.00 = 150; ÷ 0.8 = 187.50 (广东)
    assert (q.clause_set, q.total) == ("iac2020", D("187.50"))


@pytest.mark.parametrize(
    ("region", "kwargs", "expected"),
    [
        # 三者 100万 for a 家庭自用 car: pure 600 × 2.06 = 1236.
        # 广东: ÷ 0.8 = 1545; NCD −4 = 0.5 → 772.50; NCD +5 = 2.0 → 3090.00; +4 = 1.8 → 2781.00
        ("440000", {"ncd_level": -4}, "772.50"),
        ("440000", {"ncd_level": 5}, "3090.00"),
        ("440000", {"ncd_level": 4}, "2781.00"),
        # 自主定价 0.5 / 1.5 (the 2023 range): 1545 × 0.5 = 772.50; × 1.5 = 2317.50
        ("440000", {"pricing_coefficient": D("0.5")}, "772.50"),
        ("440000", {"pricing_coefficient": D("1.5")}, "2317.50"),
        # 北京: ÷ 0.75 = 1648; NCD −5 = 0.4 → 659.20; 交通违法 1.45 → 2389.60
        ("110000", {"ncd_level": -5}, "659.20"),
        ("110000", {"traffic_coefficient": D("1.45")}, "2389.60"),
        # 上海 交通违法 0.9: 1648 × 0.9 = 1483.20; 江苏 1.5: 1648 × 1.5 = 2472.00
        ("310000", {"traffic_coefficient": D("0.9")}, "1483.20"),
        ("320000", {"traffic_coefficient": D("1.5")}, "2472.00"),
        # 深圳 (福田区 440304): 1.0–1.5; 1.2 → 1977.60
        ("440304", {"traffic_coefficient": D("1.2")}, "1977.60"),
        # 厦门 has 11 levels like 北京 but no traffic coefficient: −5 → 1648 × 0.4 = 659.20
        ("350200", {"ncd_level": -5}, "659.20"),
        # 浙江 has no entry: the national default (÷ 0.75) → 1648.00
        ("330000", {}, "1648.00"),
    ],
)
def test_each_coefficient(region, kwargs, expected):
    q = quote(cover("third_party", amount=D(1000000)), region_code=region, **kwargs)
    assert q.total == D(expected)


def test_pricing_coefficient_range_follows_the_date():
    # 三者 10万 in 北京: 600 × 1.00 = 600; ÷ 0.75 = 800. Before the 2023 widening the range is [0.65, 1.35].
    old = {
        "start": date(2022, 6, 1),
        "region_code": "110000",
        "vehicle": car(first_registered=date(2020, 1, 1)),
    }
    assert quote(cover("third_party", amount=D(100000)), pricing_coefficient=D("0.65"), **old).total == D(
        "520.00"
    )
    errors = refusal(cover("third_party", amount=D(100000)), pricing_coefficient=D("0.6"), **old)
    assert codes(errors) == [("pricing_coefficient", "pricing_coefficient_out_of_range")]
    assert "0.65" in errors[0]["message"] and "1.35" in errors[0]["message"]
    # From 2023-04-28 (placeholder date) the range is [0.5, 1.5]: 800 × 0.6 = 480.00
    assert quote(
        cover("third_party", amount=D(100000)), pricing_coefficient=D("0.6"), region_code="110000"
    ).total == D("480.00")


def test_quote_lists_what_is_unconfirmed_and_the_table_versions():
    q = quote(cover("third_party", amount=D(100000)), ncd_level=4)
    assert not q.confirmed
    assert "pure premiums: demo figures" in q.unconfirmed
    assert "NCD national10 level +4 = 1.8: in no source" in q.unconfirmed
    assert [v.split("#")[0] for v in q.table_versions] == [
        "commercial_coverages@2020-09-19",
        "commercial_rates@2020-09-19",
    ]
    # A level that is in the secondary source is not singled out.
    assert not any(
        "level -4" in f for f in quote(cover("third_party", amount=D(100000)), ncd_level=-4).unconfirmed
    )


# ============================================================================= actual value


@pytest.mark.parametrize(
    ("since", "on", "months"),
    [
        (date(2026, 1, 31), date(2026, 2, 28), 0),  # a part-month is not counted
        (date(2026, 1, 31), date(2026, 3, 1), 1),
        (date(2026, 1, 15), date(2026, 1, 15), 0),
        (date(2025, 3, 1), date(2026, 3, 1), 12),
        (date(2025, 3, 2), date(2026, 3, 1), 11),
    ],
)
def test_months_in_use_counts_whole_months(since, on, months):
    assert months_in_use(since, on) == months


def test_depreciation_is_capped_at_eighty_percent():
    table = load_commercial_tables(ON).rates.depreciation
    # 营业出租 9座以下 1.10%/month; 2019-01-01 → 2026-03-01 = 86 months = 94.6% → capped at 80%.
    taxi = car(use="commercial_taxi", purchase_price=D(100000), first_registered=date(2019, 1, 1))
    value = actual_value(taxi, ON, table)
    assert (value.months, value.capped, value.depreciation, value.value) == (
        86,
        True,
        D("80000.00"),
        D("20000.00"),
    )
    # 10座以上客车 家庭自用 0.90%: 12 months → 10.8% of 123456.78 = 13333.33224 → 13333.33 (to the fen)
    bus = car(
        kind="passenger_large", seats=11, purchase_price=D("123456.78"), first_registered=date(2025, 3, 1)
    )
    value = actual_value(bus, ON, table)
    assert (value.monthly_rate, value.depreciation, value.value) == (
        D("0.0090"),
        D("13333.33"),
        D("110123.45"),
    )


# ==================================================================================== NCD


@pytest.mark.parametrize(
    ("args", "kwargs", "level"),
    [
        ((0, 0), {}, 0),
        ((1, 0), {}, -1),
        ((3, 0), {}, -3),
        ((6, 0), {}, -4),  # clamped to the national levels
        ((6, 0), {"lowest": -5}, -5),  # 北京 / 厦门
        ((0, 1), {}, 1),
        ((0, 7), {}, 5),
        ((4, 0), {"new_or_transferred": True}, 0),
        ((4, 0, 7), {}, 0),  # a lapse of more than 6 months resets
        ((0, 3, 7), {}, 0),
        ((2, 0, 4), {}, 0),  # a 3–6-month lapse keeps only upward moves
        ((0, 2, 4), {}, 2),
        ((2, 0, 2), {}, -2),  # a lapse under 3 months changes nothing
    ],
)
def test_ncd_level(args, kwargs, level):
    assert ncd_level(*args, **kwargs) == level


def test_ncd_level_refuses_an_impossible_history_at_once():
    with pytest.raises(ApplicationError) as exc:
        ncd_level(2, 1, -1)
    assert exc.value.code == "validation_error"
    assert [e["field"] for e in exc.value.details["errors"]] == ["lapse_months", "claim_free_years"]


# =============================================================================== refusals


def test_nev_only_rider_refused_on_a_fuel_car():
    errors = refusal(
        cover("damage"),
        cover("grid_failure"),
        cover("third_party", amount=D(100000)),
        cover("charger_liability", amount=D(100000)),
    )
    assert codes(errors) == [("coverages[1].code", "rider_nev_only"), ("coverages[3].code", "rider_nev_only")]
    assert "新能源汽车" in errors[0]["message"]


def test_riders_outside_the_clause_set_are_refused():
    nev = car(energy="bev")
    errors = refusal(
        cover("damage"),
        cover("engine_water_exclusion"),
        cover("value_added_services", services={"road_rescue": 1}),
        vehicle=nev,
    )
    assert codes(errors) == [
        ("coverages[1].code", "coverage_not_in_clause_set"),
        ("coverages[2].code", "coverage_not_in_clause_set"),
    ]
    # An NEV motorcycle is outside the NEV clauses: its NEV riders are refused too.
    bike = car(kind="motorcycle", use="non_commercial", seats=2, energy="bev", purchase_price=D(8000))
    assert codes(refusal(cover("damage"), cover("grid_failure"), vehicle=bike)) == [
        ("coverages[1].code", "coverage_not_in_clause_set")
    ]


def test_a_rider_needs_its_parent():
    errors = refusal(
        cover("third_party", amount=D(100000)),
        cover("scratch", amount=D(2000)),
        cover("deductible", parent="driver", rate=D("0.05")),
        cover("deductible", rate=D("0.05")),
        cover("cargo", parent="damage", amount=D(10000)),
    )
    assert codes(errors) == [
        ("coverages[1].code", "rider_parent_missing"),
        ("coverages[2].code", "rider_parent_missing"),
        ("coverages[3].parent", "param_missing"),
        ("coverages[4].parent", "rider_parent_invalid"),
    ]
    assert codes(refusal(cover("scratch", amount=D(2000)))) == [
        ("coverages", "main_coverage_required"),
        ("coverages[0].code", "rider_parent_missing"),
    ]
    assert codes(refusal()) == [("coverages", "no_coverage")]


def test_holiday_rider_only_for_family_cars():
    errors = refusal(
        cover("third_party", amount=D(100000)),
        cover("holiday_double"),
        vehicle=car(use="non_commercial"),
    )
    assert codes(errors) == [("coverages[1].code", "family_car_only")]


def test_passenger_seats_at_most_seats_minus_driver():
    assert quote(cover("passenger", amount=D(10000), seats=4)).lines[0].seats == 4
    errors = refusal(cover("passenger", amount=D(10000), seats=5))
    assert codes(errors) == [("coverages[0].seats", "passenger_seats_exceeded")]
    assert "4 座" in errors[0]["message"]


def test_limits_and_options_off_the_ladder_are_refused():
    errors = refusal(
        cover("third_party", amount=D(250000)),
        cover("driver", amount=D(15000)),
        cover("damage", amount=D(100000)),
        cover("deductible", parent="third_party", rate=D("0.25")),
        cover("scratch", amount=D(3000)),
        cover("wheel", amount=D(50000)),
        cover("repair_compensation", days=91, daily_amount=D(150)),
    )
    assert codes(errors) == [
        ("coverages[0].amount", "limit_not_offered"),
        ("coverages[1].amount", "limit_not_offered"),
        ("coverages[2].amount", "param_not_allowed"),
        ("coverages[3].rate", "rate_not_offered"),
        ("coverages[4].amount", "limit_not_offered"),
        ("coverages[5].amount", "amount_out_of_range"),
        ("coverages[6].days", "days_out_of_range"),
        ("coverages[6].daily_amount", "limit_not_offered"),
    ]
    assert "10万" not in errors[0]["message"] and "100,000元" in errors[0]["message"]


def test_coefficients_and_ncd_levels_outside_the_region_are_refused():
    tp = cover("third_party", amount=D(100000))
    assert codes(refusal(tp, region_code="110000", traffic_coefficient=D("0.95"))) == [
        ("traffic_coefficient", "traffic_coefficient_out_of_range")
    ]
    assert codes(refusal(tp, traffic_coefficient=D("1.0"))) == [
        ("traffic_coefficient", "traffic_coefficient_not_used")
    ]
    assert codes(refusal(tp, ncd_level=-5)) == [("ncd_level", "ncd_level_out_of_range")]  # 广东: −4…+5
    assert quote(tp, region_code="110000", ncd_level=-5).ncd_coefficient == D("0.4")
    assert codes(refusal(tp, pricing_coefficient=D("1.51"))) == [
        ("pricing_coefficient", "pricing_coefficient_out_of_range")
    ]


def test_duplicates_unknown_codes_and_bad_vehicles():
    errors = refusal(
        cover("third_party", amount=D(100000)),
        cover("third_party", amount=D(200000)),
        cover("mystery"),
        vehicle=car(kind="truck", use="family_private", seats=3),
    )
    assert codes(errors) == [
        ("vehicle.use", "use_not_allowed_for_kind"),
        ("coverages[1].code", "coverage_duplicate"),
        ("coverages[2].code", "coverage_unknown"),
    ]
    errors = refusal(
        cover("third_party", amount=D(100000)),
        vehicle=car(seats=12, purchase_price=D(0), first_registered=date(2026, 3, 2)),
        region_code="11",
    )
    assert codes(errors) == [
        ("region_code", "invalid_region_code"),
        ("vehicle.seats", "seats_kind_mismatch"),
        ("vehicle.purchase_price", "purchase_price_invalid"),
        ("vehicle.first_registered", "start_before_registration"),
    ]
    assert codes(refusal(cover("third_party", amount=D(100000)), vehicle=car(first_registered=None))) == [
        ("vehicle.first_registered", "registration_date_missing")
    ]


def test_several_bad_fields_are_reported_together():
    errors = refusal(
        cover("damage"),
        cover("grid_failure"),
        cover("passenger", amount=D(10000), seats=9),
        cover("third_party", amount=D(123)),
        cover("holiday_double"),
        vehicle=car(use="non_commercial"),
        region_code="110000",
        ncd_level=6,
        pricing_coefficient=D("2"),
        traffic_coefficient=D("1.5"),
    )
    assert {c for _, c in codes(errors)} == {
        "rider_nev_only",
        "passenger_seats_exceeded",
        "limit_not_offered",
        "family_car_only",
        "ncd_level_out_of_range",
        "pricing_coefficient_out_of_range",
        "traffic_coefficient_out_of_range",
    }
    assert len(errors) == 7


def test_no_table_for_the_date():
    tables = load_commercial_tables(ON)
    inp = CommercialInput(
        vehicle=car(first_registered=date(2019, 1, 1)),
        start=date(2020, 9, 18),
        region_code="110000",
        coverages=(cover("third_party", amount=D(100000)),),
        ncd_level=0,
        pricing_coefficient=D(1),
    )
    with pytest.raises(ApplicationError) as exc:
        commercial_quote(inp, tables)
    assert exc.value.code == "rate_table_missing"
    with pytest.raises(ApplicationError) as exc:
        load_commercial_tables(date(2020, 9, 18))
    assert exc.value.code == "rate_table_missing"


# ============================================================================== invariants

LADDER = [
    D(a)
    for a in (
        100000,
        150000,
        200000,
        300000,
        500000,
        1000000,
        1500000,
        2000000,
        3000000,
        4000000,
        5000000,
        10000000,
    )
]
REGIONS = ["110000", "310000", "320000", "440000", "440300", "350200", "330000"]


@settings(max_examples=200, deadline=None)
@given(
    prices=st.tuples(
        st.decimals(min_value=D("1000"), max_value=D("3000000"), places=2),
        st.decimals(min_value=D("0"), max_value=D("500"), places=2),
    ),
    months=st.integers(min_value=0, max_value=200),
    rate=st.sampled_from([D("0.05"), D("0.10"), D("0.15"), D("0.20")]),
    ncd=st.integers(min_value=-4, max_value=5),
    k=st.decimals(min_value=D("0.5"), max_value=D("1.5"), places=4),
)
def test_premium_never_falls_as_the_sum_insured_rises(prices, months, rate, ncd, k):
    low, step = prices
    registered = date(2026 - months // 12 - 1, 12 - months % 12, 1) if months else date(2026, 3, 1)
    covers = (
        cover("damage"),
        cover("deductible", parent="damage", rate=rate),
        cover("engine_water_exclusion"),
    )
    a = quote(
        *covers,
        vehicle=car(purchase_price=low, first_registered=registered),
        ncd_level=ncd,
        pricing_coefficient=k,
    )
    b = quote(
        *covers,
        vehicle=car(purchase_price=low + step, first_registered=registered),
        ncd_level=ncd,
        pricing_coefficient=k,
    )
    assert a.actual_value is not None and b.actual_value is not None
    assert a.actual_value.value <= b.actual_value.value
    assert a.total <= b.total
    assert a.total == sum(ln.premium for ln in a.lines)


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(st.sampled_from(LADDER), min_size=2, max_size=2).map(sorted),
    use=st.sampled_from(USE_CATEGORIES),
    region=st.sampled_from(REGIONS),
    ncd=st.integers(min_value=-4, max_value=5),
    rate=st.sampled_from([D("0.05"), D("0.20")]),
)
def test_premium_never_falls_as_the_third_party_limit_rises(steps, use, region, ncd, rate):
    def total(limit: Decimal) -> Decimal:
        covers = [cover("third_party", amount=limit), cover("deductible", parent="third_party", rate=rate)]
        if use == "family_private":
            covers.append(cover("holiday_double"))
        return quote(*covers, vehicle=car(use=use), region_code=region, ncd_level=ncd).total

    assert total(steps[0]) <= total(steps[1])


@settings(max_examples=200, deadline=None)
@given(
    levels=st.lists(st.integers(min_value=-5, max_value=5), min_size=2, max_size=2).map(sorted),
    region=st.sampled_from(REGIONS),
    energy=st.sampled_from(["fuel", "bev"]),
    price=st.decimals(min_value=D("20000"), max_value=D("800000"), places=0),
)
def test_premium_never_falls_as_the_ncd_level_rises(levels, region, energy, price):
    lowest = -5 if region in ("110000", "350200") else -4
    lo, hi = (max(level, lowest) for level in levels)
    covers = (
        cover("damage"),
        cover("deductible", parent="damage", rate=D("0.15")),
        cover("third_party", amount=D(1500000)),
        cover("passenger", amount=D(20000), seats=4),
    )
    v = car(energy=energy, purchase_price=price)
    assert (
        quote(*covers, vehicle=v, region_code=region, ncd_level=lo).total
        <= quote(*covers, vehicle=v, region_code=region, ncd_level=hi).total
    )


@settings(max_examples=300, deadline=None)
@given(
    region=st.sampled_from(REGIONS),
    start=st.dates(min_value=date(2020, 9, 19), max_value=date(2030, 12, 31)),
    k=st.decimals(min_value=D("0.3"), max_value=D("1.7"), places=3),
    t=st.none() | st.decimals(min_value=D("0.8"), max_value=D("1.6"), places=3),
)
def test_every_coefficient_used_lies_within_its_range(region, start, k, t):
    tables = load_commercial_tables(start)
    rates = tables.rates.region_for(region)
    try:
        q = quote(
            cover("third_party", amount=D(500000)),
            vehicle=car(first_registered=date(2020, 1, 1)),
            region_code=region,
            start=start,
            pricing_coefficient=k,
            traffic_coefficient=t,
        )
    except ApplicationError as exc:
        found = {e["code"] for e in exc.details["errors"]}
        assert found <= {
            "pricing_coefficient_out_of_range",
            "traffic_coefficient_out_of_range",
            "traffic_coefficient_not_used",
        }
        pricing = rates.pricing_range(start)
        assert pricing is not None
        assert ("pricing_coefficient_out_of_range" in found) == (not pricing.contains(k))
        return
    pricing = rates.pricing_range(start)
    assert pricing is not None and pricing.low <= q.pricing_coefficient <= pricing.high
    traffic = rates.traffic_range(start)
    if traffic is None:
        assert q.traffic_coefficient is None and t is None
    else:
        assert q.traffic_coefficient is not None and traffic.low <= q.traffic_coefficient <= traffic.high
    scheme = tables.rates.ncd_schemes[rates.ncd_scheme]
    assert min(scheme.coefficients.values()) <= q.ncd_coefficient <= max(scheme.coefficients.values())
    assert q.expense_loading <= tables.rates.loading_cap


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(VEHICLE_KINDS),
    use=st.sampled_from(USE_CATEGORIES),
    price=st.decimals(min_value=D("0.01"), max_value=D("10000000"), places=2),
    since=st.dates(min_value=date(1980, 1, 1), max_value=ON),
)
def test_depreciation_never_beyond_eighty_percent(kind, use, price, since):
    table = load_commercial_tables(ON).rates.depreciation
    if table.monthly_rate(kind, use) is None:
        return
    value = actual_value(car(kind=kind, use=use, purchase_price=price, first_registered=since), ON, table)
    assert ZERO <= value.depreciation <= to_fen(price * D("0.8"))
    assert value.value >= price - to_fen(price * D("0.8"))
    assert value.value == price - value.depreciation
