"""The 商业车险 YAML tables: what ships, how a version is chosen by date, and what the loader refuses."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from epolicy.common.errors import ApplicationError
from epolicy.products.commercial_tables import (
    COVERAGES_FILE,
    RATES_FILE,
    RateTableError,
    commercial_unconfirmed,
    load_commercial_tables,
    validate_commercial,
)
from epolicy.products.tables import DATA_DIR

ON = date(2026, 3, 1)


def test_every_shipped_version_validates():
    labels = [label.split("#")[0] for label in validate_commercial()]
    assert labels == ["commercial_coverages@2020-09-19", "commercial_rates@2020-09-19"]


def test_loaded_tables_are_cached_per_date():
    assert load_commercial_tables(ON) is load_commercial_tables(ON)
    # Another date in the same versions shares the built tables.
    assert load_commercial_tables(ON) is load_commercial_tables(date(2021, 1, 1))


def test_shipped_catalogue():
    cat = load_commercial_tables(ON).catalogue
    assert list(cat.coverages) == ["damage", "third_party", "driver", "passenger"]
    damage = cat.coverages["damage"]
    assert damage.names == {"iac2020": "机动车损失保险", "nev2021": "新能源汽车损失保险"}
    assert damage.included["iac2020"] == (
        "全车盗抢",
        "玻璃单独破碎",
        "自燃",
        "发动机涉水",
        "不计免赔",
        "无法找到第三方",
    )
    ladder = cat.coverages["third_party"].amount_options
    assert (ladder[0], ladder[-1]) == (Decimal(100000), Decimal(10000000))
    assert cat.riders["deductible"].attaches_to == ("damage", "third_party", "driver", "passenger")
    assert cat.riders["scratch"].amount_options == tuple(Decimal(a) for a in (2000, 5000, 10000, 20000))
    assert cat.riders["repair_compensation"].max_days == 90
    nev_only = {c for c, r in cat.riders.items() if r.clause_sets == {"nev2021"}}
    assert nev_only == {"grid_failure", "charger_damage", "charger_liability", "nev_value_added_services"}
    assert len([r for r in cat.riders.values() if "iac2020" in r.clause_sets]) == 11
    assert len([r for r in cat.riders.values() if "nev2021" in r.clause_sets]) == 13
    # Nothing was read in the 2020 / 2021 clause texts: every entry is unconfirmed.
    assert not any(item.confirmed for item in cat.entries())
    assert all(item.source for item in cat.entries())


def test_shipped_rates_are_demo_and_say_so():
    tables = load_commercial_tables(ON)
    rates = tables.rates
    assert rates.demo and rates.pure.demo and not rates.pure.confirmed and not rates.version.confirmed
    assert rates.loading_cap == Decimal("0.25")
    assert all(r.expense_loading <= Decimal("0.25") for r in rates.regions.values())
    national = rates.ncd_schemes["national10"].coefficients
    assert [national[lv] for lv in range(-4, 6)] == [
        Decimal(x) for x in ("0.5", "0.6", "0.7", "0.8", "1.0", "1.2", "1.4", "1.6", "1.8", "2.0")
    ]
    assert rates.ncd_schemes["national10"].unconfirmed_levels == {4}
    assert rates.ncd_schemes[rates.region_for("110000").ncd_scheme].lowest == -5
    assert rates.ncd_schemes[rates.region_for("350200").ncd_scheme].lowest == -5
    traffic = {
        code: (r.traffic_ranges[0].low, r.traffic_ranges[0].high) if r.traffic_ranges else None
        for code, r in rates.regions.items()
    }
    assert traffic["310000"] == (Decimal("0.9"), Decimal("1.1"))
    assert traffic["320000"] == (Decimal("0.9"), Decimal("1.5"))
    assert traffic["110000"] == (Decimal("1.0"), Decimal("1.45"))
    assert traffic["440300"] == (Decimal("1.0"), Decimal("1.5"))
    assert traffic["440000"] is None and traffic["default"] is None
    assert rates.region_for("440304").code == "440300"
    assert rates.region_for("440106").code == "440000"
    assert rates.region_for("330100").code == "default"
    bj = rates.region_for("110000")
    old, new = bj.pricing_range(date(2022, 1, 1)), bj.pricing_range(ON)
    assert old is not None and (old.low, old.high) == (Decimal("0.65"), Decimal("1.35"))
    assert new is not None and (new.low, new.high) == (Decimal("0.5"), Decimal("1.5"))
    dep = rates.depreciation
    assert dep.cap == Decimal("0.80")
    assert dep.monthly_rate("passenger_small", "family_private") == Decimal("0.0060")
    assert dep.monthly_rate("truck_low_speed", "commercial_taxi") == Decimal("0.0140")
    assert dep.monthly_rate("truck", "family_private") is None
    flags = commercial_unconfirmed(ON)
    assert "pure premiums: demo figures" in flags and "table commercial_rates: demo figures" in flags
    assert not tables.confirmed


def test_no_table_before_the_reform():
    with pytest.raises(ApplicationError) as exc:
        load_commercial_tables(date(2020, 9, 18))
    assert exc.value.code == "rate_table_missing"
    assert "2020-09-18" in exc.value.message_zh


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


def _set(path: list[Any], value: Any) -> Callable[[Any], None]:
    def change(doc: Any) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _drop(path: list[Any]) -> Callable[[Any], None]:
    def change(doc: Any) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


RATES = ["versions", 0]
PURE = [*RATES, "pure_premiums"]
CAT = ["versions", 0]


def test_a_faithful_copy_loads(data_dir):
    edit(data_dir, RATES_FILE, lambda doc: None)
    edit(data_dir, COVERAGES_FILE, lambda doc: None)
    assert [v.split("#")[0] for v in validate_commercial(data_dir=data_dir)] == [
        v.split("#")[0] for v in validate_commercial()
    ]
    assert load_commercial_tables(ON, data_dir=data_dir).versions == load_commercial_tables(ON).versions


@pytest.mark.parametrize(
    ("filename", "change", "match"),
    [
        # a misspelt key is not silently ignored
        (RATES_FILE, _set([*RATES, "regions", "110000", "expense_loadng"], "0.2"), "unknown keys"),
        (COVERAGES_FILE, _set([*CAT, "riders", "wheel", "attaches"], ["damage"]), "unknown keys"),
        # money and rates as YAML floats are refused
        (RATES_FILE, _set([*PURE, "damage", 0, "rate"], 0.009), "quoted decimal"),
        (RATES_FILE, _set([*PURE, "riders", "scratch", "by_option", "2000"], 400.0), "quoted decimal"),
        (COVERAGES_FILE, _set([*CAT, "coverages", "third_party", "amount_options", 0], 100000.0), "quoted"),
        # versions overlapping in time
        (
            RATES_FILE,
            lambda doc: doc["versions"].append({**doc["versions"][0], "effective_from": date(2024, 1, 1)}),
            "overlap",
        ),
        # demo figures may not be confirmed, nor sit in a confirmed version
        (RATES_FILE, _set([*PURE, "confirmed"], True), "demo"),
        (RATES_FILE, _set([*RATES, "confirmed"], True), "confirmed"),
        (COVERAGES_FILE, _set([*CAT, "confirmed"], True), "unconfirmed entry"),
        # a loading above the 25% cap
        (RATES_FILE, _set([*RATES, "regions", "440000", "expense_loading"], "0.30"), "cap"),
        # a third-party ladder step without a limit factor
        (RATES_FILE, _drop([*PURE, "third_party_limit_factors", "150000"]), "limit factor"),
        # limit factors falling as the limit rises
        (RATES_FILE, _set([*PURE, "third_party_limit_factors", "200000"], "1.10"), "fall"),
        # an NCD table with a gap, or falling
        (RATES_FILE, _drop([*RATES, "ncd_schemes", "national10", "coefficients", "2"]), "contiguous"),
        (RATES_FILE, _set([*RATES, "ncd_schemes", "national10", "coefficients", "3"], "1.3"), "never fall"),
        # two rows pricing the same class
        (
            RATES_FILE,
            lambda doc: doc["versions"][0]["pure_premiums"]["damage"].append(
                doc["versions"][0]["pure_premiums"]["damage"][0]
            ),
            "two rows",
        ),
        # a rider without a rate, or attaching to an unknown coverage
        (RATES_FILE, _drop([*PURE, "riders", "wheel"]), "no rate"),
        (
            COVERAGES_FILE,
            _set([*CAT, "riders", "cargo", "attaches_to"], ["trailer"]),
            "unknown main coverage",
        ),
        # a scratch option without its premium
        (
            COVERAGES_FILE,
            _set([*CAT, "riders", "scratch", "amount_options"], [2000, 5000, 10000, 30000]),
            "by_option",
        ),
        # pricing-coefficient ranges with a gap between them
        (
            RATES_FILE,
            _set([*RATES, "regions", "110000", "pricing_coefficient", 0, "effective_to"], date(2023, 4, 1)),
            "day by day",
        ),
        # a region code not in regions.yaml, or a name that differs from it
        (RATES_FILE, _set([*RATES, "regions", "110001"], {}), "regions.yaml"),
        (RATES_FILE, _set([*RATES, "regions", "110000", "name_zh"], "北平"), "differs"),
        # a depreciation kind in no row
        (RATES_FILE, _set([*RATES, "depreciation", "rows", 4, "kinds"], ["truck", "special"]), "no row"),
    ],
)
def test_loader_refuses_bad_tables(data_dir, filename, change, match):
    edit(data_dir, filename, change)
    with pytest.raises(RateTableError, match=match):
        validate_commercial(data_dir=data_dir)


def test_version_is_picked_by_date(data_dir):
    def split(doc: Any) -> None:
        first = doc["versions"][0]
        first["effective_to"] = date(2024, 12, 31)
        second = {**first, "effective_from": date(2025, 1, 1), "effective_to": None, "source": "second"}
        second["loading_cap"] = "0.25"
        second["regions"] = {**first["regions"]}
        second["regions"]["440000"] = {**first["regions"]["440000"], "expense_loading": "0.15"}
        doc["versions"].append(second)

    edit(data_dir, RATES_FILE, split)
    old = load_commercial_tables(date(2024, 12, 31), data_dir=data_dir)
    new = load_commercial_tables(date(2025, 1, 1), data_dir=data_dir)
    assert old.rates.region_for("440000").expense_loading == Decimal("0.20")
    assert new.rates.region_for("440000").expense_loading == Decimal("0.15")
    assert old.rates.version.label != new.rates.version.label
    assert new.rates.version.effective_from == date(2025, 1, 1)
    assert len(validate_commercial(data_dir=data_dir)) == 3


def test_rate_table_missing_after_the_last_version_ends(data_dir):
    edit(data_dir, RATES_FILE, _set([*RATES, "effective_to"], date(2025, 12, 31)))
    assert load_commercial_tables(date(2025, 12, 31), data_dir=data_dir)
    with pytest.raises(ApplicationError) as exc:
        load_commercial_tables(date(2026, 1, 1), data_dir=data_dir)
    assert exc.value.code == "rate_table_missing"


def test_an_insurer_can_confirm_its_filed_tables(data_dir):
    # What docs/commercial-cover.md asks of an insurer: file figures, then mark every part confirmed.
    def confirm_rates(doc: Any) -> None:
        v = doc["versions"][0]
        v["confirmed"] = True
        v["demo"] = False
        v["pure_premiums"]["demo"] = False
        v["pure_premiums"]["confirmed"] = True
        v["depreciation"]["confirmed"] = True
        for scheme in v["ncd_schemes"].values():
            scheme["confirmed"] = True
            scheme.pop("unconfirmed_levels", None)
        for region in v["regions"].values():
            region["confirmed"] = True
            for r in (*region["pricing_coefficient"], *region["traffic_coefficient"]):
                r["confirmed"] = True

    def confirm_catalogue(doc: Any) -> None:
        v = doc["versions"][0]
        v["confirmed"] = True
        for group in ("clause_sets", "coverages", "riders"):
            for item in v[group].values():
                item["confirmed"] = True

    edit(data_dir, RATES_FILE, confirm_rates)
    edit(data_dir, COVERAGES_FILE, confirm_catalogue)
    assert commercial_unconfirmed(ON, data_dir=data_dir) == ()
    assert load_commercial_tables(ON, data_dir=data_dir).confirmed
