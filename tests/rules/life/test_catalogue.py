"""The demo life catalogue as shipped, how versions are chosen, and what the loader refuses."""

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
from epolicy.products.life_tables import LIFE_DIR, catalogue_versions, load_life_catalogue
from epolicy.products.tables import RateTableError
from epolicy.rules.life import ITEMS

D = Decimal


def test_three_demo_products_of_the_three_kinds(catalogue):
    kinds = {p.kind: p for p in catalogue.products.values()}
    assert set(kinds) == {"endowment", "whole_life_participating", "universal"}
    for product in catalogue.products.values():
        assert product.demo
        assert all(not t.version.confirmed for t in product.versions)
        assert "（演示）" in product.name_zh


def test_every_item_is_offered_by_some_demo_product(catalogue):
    offered = set().union(*(t.items for p in catalogue.products.values() for t in p.versions))
    assert offered == {item.code for item in ITEMS}


def test_figures_from_the_brief(catalogue):
    end = catalogue.product("DEMO-END20").terms_for(date(2023, 3, 1))
    assert (end.servicing.loan_share, end.servicing.loan_term_days, end.servicing.loan_min) == (
        D("0.80"),
        180,
        500,
    )
    assert (
        end.servicing.cooling_off_days,
        end.servicing.cooling_off_fee,
        end.servicing.reinstatement_years,
    ) == (
        15,
        10,
        2,
    )
    assert dict(end.frequencies) == {
        "annual": 1,
        "semiannual": D("0.52"),
        "quarterly": D("0.262"),
        "monthly": D("0.088"),
    }
    assert [(b.policy_year, b.share_of_sum_assured) for b in end.survival_benefits] == [
        (y, D("0.10")) for y in (3, 6, 9, 12, 15, 18)
    ]
    loan_rate = catalogue.product("DEMO-END20").declared.loan_interest.points[0]
    assert loan_rate.rate == D("0.05") and not loan_rate.confirmed and "UNCONFIRMED" in loan_rate.note
    ul = catalogue.product("DEMO-UL").terms_for(date(2025, 1, 15)).universal
    assert ul.guaranteed_rate == D("0.015")
    assert ul.initial_charge_rate == D("0.01")
    assert ul.withdrawal_fee_rates == (D("0.03"), D("0.01"), D("0.01"), D("0.01"), D("0.01"))
    assert ul.min_remaining_value == 100
    assert catalogue.regulation.cooling_off_fee_cap == 10


def test_a_policy_keeps_the_terms_of_its_filing_date(catalogue):
    ul = catalogue.product("DEMO-UL")
    assert ul.terms_for(date(2024, 9, 30)).universal.guaranteed_rate == D("0.025")
    assert ul.terms_for(date(2024, 10, 1)).universal.guaranteed_rate == D("0.015")
    with pytest.raises(ApplicationError) as info:
        ul.terms_for(date(2019, 12, 31))
    assert info.value.code == "life_terms_missing"
    with pytest.raises(ApplicationError) as info:
        catalogue.product("NO-SUCH")
    assert info.value.code == "life_product_unknown"


def test_loaded_once_per_directory(catalogue):
    assert load_life_catalogue() is catalogue
    labels = catalogue_versions(catalogue)
    assert len(labels) == 4 and all("#" in label for label in labels)


# ---------------------------------------------------------------------------- strictness


def broken(tmp_path: Path, filename: str, change: Callable[[dict[str, Any]], None]) -> Path:
    directory = tmp_path / "life"
    shutil.copytree(LIFE_DIR, directory)
    path = directory / filename
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return directory


def servicing(data: dict[str, Any]) -> dict[str, Any]:
    return data["versions"][0]["servicing"]


END, PAR, UL, REG = (
    "demo_endowment.yaml",
    "demo_whole_life_par.yaml",
    "demo_universal.yaml",
    "regulation.yaml",
)

BROKEN = [
    ("short_cooling_off", END, lambda d: servicing(d).update(cooling_off_days=10), "below the regulatory 15"),
    ("fee_above_cap", END, lambda d: servicing(d).update(cooling_off_fee=20), "above the regulatory cap"),
    (
        "guarantee_above_cap",
        UL,
        lambda d: d["versions"][1]["universal"].update(guaranteed_rate="0.02"),
        "cap",
    ),
    ("float_rate", END, lambda d: d["declared"]["loan_interest"][0].update(rate=0.05), "quoted decimal"),
    ("typo", END, lambda d: servicing(d).update(grace_dayz=60), "unknown keys"),
    ("overlap", UL, lambda d: d["versions"][0].update(effective_to=None), "overlap"),
    ("loan_without_terms", END, lambda d: servicing(d).update(loan=None), "items offered without"),
    ("short_cash_table", END, lambda d: d["versions"][0].update(cash_values=["60.00"] * 19), "cash_values"),
    ("band_gap", END, lambda d: d["versions"][0]["premium_rates"].pop(2), "gap"),
    (
        "unknown_item",
        END,
        lambda d: d["versions"][0]["items"].append("change_beneficiary"),
        "unknown or repeated",
    ),
    (
        "confirmed_demo",
        END,
        lambda d: d["versions"][0].update(confirmed=True),
        "demo data cannot be confirmed",
    ),
    ("undeclared_loan_rate", PAR, lambda d: d["declared"].pop("loan_interest"), "not declared"),
    ("no_dividend_options", PAR, lambda d: d["versions"][0].pop("dividend_options"), "participating"),
    ("annual_factor", END, lambda d: d["versions"][0]["frequencies"].update(annual="0.9"), "annual"),
    ("rate_above_one", PAR, lambda d: d["declared"]["dividends"][2026].update(rate="1.5"), "between 0 and 1"),
    ("same_code", UL, lambda d: d["product"].update(code="DEMO-END20"), "defined twice"),
    ("unsorted_rates", END, lambda d: d["declared"]["accumulation"].reverse(), "increasing"),
    ("regulation_typo", REG, lambda d: d.update(cooling_off_fee_capp=10), "unknown keys"),
]


@pytest.mark.parametrize(("case", "filename", "change", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_the_loader_refuses_bad_data(tmp_path, case, filename, change, message):
    directory = broken(tmp_path, filename, change)
    with pytest.raises(RateTableError, match=message):
        load_life_catalogue(data_dir=directory)


def test_an_untouched_copy_loads(tmp_path):
    directory = broken(tmp_path, END, lambda d: None)
    copy = load_life_catalogue(data_dir=directory)
    assert set(copy.products) == {"DEMO-END20", "DEMO-WLPAR", "DEMO-UL"}
