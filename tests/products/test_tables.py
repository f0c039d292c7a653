"""The YAML rate tables: what ships, how a version is chosen by date, and what the loader refuses."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from epolicy.common.clock import SHANGHAI, frozen_clock
from epolicy.common.errors import ApplicationError
from epolicy.products.tables import (
    DATA_DIR,
    RateTableError,
    load_ctpl_tables,
    load_vehicle_tax_table,
    tables_version,
    validate_all,
)

ON = date(2026, 3, 1)

PLAN_E = {
    "江苏", "浙江", "安徽", "上海", "湖南", "湖北", "江西", "辽宁", "河南", "福建",
    "重庆", "山东", "广东", "深圳", "厦门", "四川", "贵州", "大连", "青岛", "宁波",
}  # fmt: skip


def test_every_shipped_version_validates():
    labels = validate_all()
    names = {label.split("@")[0] for label in labels}
    assert names == {"ctpl_limits", "ctpl_base_premium", "ctpl_floating", "vehicle_tax"}
    assert "ctpl_limits@2008-02-01" in {label.split("#")[0] for label in labels}


def test_loaded_tables_are_cached_per_date():
    assert load_ctpl_tables(ON) is load_ctpl_tables(ON)
    assert load_vehicle_tax_table(ON) is load_vehicle_tax_table(ON)
    # Same version on another date: the component tables are shared, not rebuilt.
    assert load_ctpl_tables(ON).floating is load_ctpl_tables(date(2021, 1, 1)).floating
    assert load_ctpl_tables(ON).floating is not load_ctpl_tables(date(2019, 1, 1)).floating


def test_the_2020_plans_cover_every_region_exactly_once():
    tables = load_ctpl_tables(ON)
    covered: dict[str, str] = {}
    for plan in tables.floating.plans:
        for code in plan.regions:
            assert code not in covered
            covered[code] = plan.code
    assert set(covered) == set(tables.region_names)
    assert len(covered) == 36  # 31 provinces + 深圳, 大连, 青岛, 宁波, 厦门
    plans = {p.code: p for p in tables.floating.plans}
    assert set(plans["E"].regions.values()) == PLAN_E
    assert plans["E"].confirmed is True
    assert [plans[c].confirmed for c in "ABCD"] == [False] * 4
    assert set(plans["A"].regions.values()) == {"内蒙古", "海南", "青海", "西藏"}
    assert plans["A"].rates["A3"] == Decimal("-0.50")


@pytest.mark.parametrize(
    ("code", "name", "plan"),
    [
        ("110000", "北京", "D"),
        ("310000", "上海", "E"),
        ("320000", "江苏", "E"),
        ("440000", "广东", "E"),
        ("440300", "深圳", "E"),
        ("210200", "大连", "E"),
        ("330200", "宁波", "E"),
        ("350200", "厦门", "E"),
        ("370200", "青岛", "E"),
        ("150000", "内蒙古", "A"),
    ],
)
def test_region_codes_and_names(code, name, plan):
    tables = load_ctpl_tables(ON)
    found = tables.floating.plan_for(code)
    assert found is not None
    assert (found[0].code, found[1], found[0].regions[code]) == (plan, code, name)
    assert tables.region_names[code] == name


def test_vehicle_tax_schedules_are_labelled():
    table = load_vehicle_tax_table(ON)
    assert set(table.schedules) == {"110000", "310000", "440000"}
    bj = table.schedules["110000"].classes["passenger"]
    assert (bj.confirmed, bj.demo) == (True, False)
    assert [bj.amounts[b.code] for b in table.bands] == [
        Decimal(a) for a in (300, 420, 480, 900, 1920, 3480, 5280)
    ]
    # 北京 has confirmed amounts for 乘用车 only; every other class and region is a marked demo figure.
    for code, schedule in table.schedules.items():
        for vehicle_class, part in schedule.classes.items():
            if (code, vehicle_class) != ("110000", "passenger"):
                assert (part.confirmed, part.demo) == (False, True), (code, vehicle_class)
                assert "DEMO" in part.source
    assert [(b.national_min, b.national_max) for b in table.bands] == [
        (Decimal(lo), Decimal(hi))
        for lo, hi in [
            (60, 360),
            (300, 540),
            (360, 660),
            (660, 1200),
            (1200, 2400),
            (2400, 3600),
            (3600, 5400),
        ]
    ]


@pytest.mark.parametrize(
    ("load", "on"),
    [(load_ctpl_tables, date(2008, 1, 31)), (load_vehicle_tax_table, date(2011, 12, 31))],
)
def test_no_table_before_the_first_version(load, on):
    with pytest.raises(ApplicationError) as exc:
        load(on)
    assert exc.value.code == "rate_table_missing"
    assert on.isoformat() in exc.value.message_zh


def test_tables_version_lists_each_file_effective_on_the_date():
    now = tables_version(ON)
    parts = now.split("; ")
    assert [p.split("#")[0] for p in parts] == [
        "ctpl_base_premium@2008-02-01",
        "ctpl_floating@2020-09-19",
        "ctpl_limits@2020-09-19",
        "vehicle_tax@2012-01-01",
    ]
    assert all(len(p.split("#")[1]) == 12 for p in parts)
    before = tables_version(date(2019, 1, 1))
    assert "ctpl_floating@2007-07-01" in before and "ctpl_limits@2008-02-01" in before
    assert load_ctpl_tables(ON).versions == tuple(parts[:3])


def test_tables_version_defaults_to_the_business_date():
    # 2020-09-18 16:30 UTC is already 2020-09-19 in Shanghai: the reformed tables apply.
    with frozen_clock(dt.datetime(2020, 9, 18, 16, 30, tzinfo=dt.UTC)):
        assert "ctpl_limits@2020-09-19" in tables_version()
    with frozen_clock(dt.datetime(2020, 9, 18, 23, 59, tzinfo=SHANGHAI)):
        assert "ctpl_limits@2008-02-01" in tables_version()


# ---------------------------------------------------------------------------------------------- bad data


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def edit(directory: Path, filename: str, change: Callable[[Any], None]) -> None:
    path = directory / filename
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_a_faithful_copy_loads(data_dir):
    # The control for the tests below: the copy itself is fine, so their failures come from the edit.
    edit(data_dir, "vehicle_tax.yaml", lambda doc: None)
    edit(data_dir, "ctpl_floating.yaml", lambda doc: None)
    bj = load_vehicle_tax_table(ON, data_dir=data_dir).schedules["110000"]
    assert bj.classes["passenger"].amounts["1.0-1.6"] == Decimal(420)
    assert validate_all(data_dir=data_dir)
    assert tables_version(ON, data_dir=data_dir) == tables_version(ON)  # digests are of content, not layout


@pytest.mark.parametrize(
    ("region", "vehicle_class", "band", "amount"),
    [
        ("110000", "passenger", "1.0-1.6", 541),
        ("310000", "passenger", "le1.0", 59),
        ("440000", "passenger", "gt4.0", 5401),
        ("110000", "bus", "ge20", 1441),  # 客车 480–1440 per vehicle
        ("310000", "truck", "per_t", 15),  # 货车 16–120 per ton
        ("440000", "special", "per_t", 121),  # 专用作业车 16–120 per ton
        ("110000", "motorcycle", "per_vehicle", 181),  # 摩托车 36–180
    ],
)
def test_loader_refuses_a_regional_amount_outside_the_national_range(
    data_dir, region, vehicle_class, band, amount
):
    def change(doc):
        doc["versions"][0]["schedules"][region][vehicle_class]["amounts"][band] = amount

    edit(data_dir, "vehicle_tax.yaml", change)
    with pytest.raises(RateTableError, match="national range"):
        load_vehicle_tax_table(ON, data_dir=data_dir)
    with pytest.raises(RateTableError):
        validate_all(data_dir=data_dir)


def _set(path: list[Any], value: Any) -> Callable[[Any], None]:
    def change(doc: Any) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("filename", "change", "match"),
    [
        # money and rates as YAML floats are refused
        ("ctpl_floating.yaml", _set(["versions", 0, "plans", "E", "rates", "A3"], -0.3), "quoted decimal"),
        # a loading above the +30% cap
        ("ctpl_floating.yaml", _set(["versions", 0, "plans", "E", "rates", "A6"], "0.40"), "outside"),
        # 安徽 in two plans
        ("ctpl_floating.yaml", _set(["versions", 0, "plans", "A", "regions", "340000"], "安徽"), "plans"),
        # a region code not in regions.yaml
        (
            "ctpl_floating.yaml",
            _set(["versions", 0, "plans", "E", "regions", "340001"], "安徽"),
            "regions.yaml",
        ),
        # a version marked confirmed while plans A–D are not
        ("ctpl_floating.yaml", _set(["versions", 0, "confirmed"], True), "unconfirmed plan"),
        # a misspelt key is not silently ignored
        (
            "ctpl_base_premium.yaml",
            _set(["versions", 0, "classes", "motorcycle", "upper_inclusve"], True),
            "unknown keys",
        ),
        # bands with a gap
        (
            "ctpl_base_premium.yaml",
            _set(["versions", 0, "classes", "family_private", "bands", 1, "lower"], 7),
            "contig",
        ),
        # versions overlapping in time
        ("ctpl_limits.yaml", _set(["versions", 1, "effective_to"], date(2020, 9, 19)), "overlap"),
        # a demo schedule cannot claim to be confirmed
        (
            "vehicle_tax.yaml",
            _set(["versions", 0, "schedules", "310000", "passenger", "confirmed"], True),
            "demo",
        ),
        # a relief naming an energy type that does not exist
        (
            "vehicle_tax.yaml",
            _set(["versions", 0, "reliefs", 2, "energy_types"], ["phev", "steam"]),
            "steam",
        ),
    ],
)
def test_loader_refuses_bad_tables(data_dir, filename, change, match):
    edit(data_dir, filename, change)
    with pytest.raises(RateTableError, match=match):
        validate_all(data_dir=data_dir)
