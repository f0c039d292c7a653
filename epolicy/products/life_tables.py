"""The life product catalogue: the YAML files in products/data/life turned into the rules' dataclasses.

One file per product (`product`, `versions`, `declared`) plus `regulation.yaml`. Unlike the motor
tables, the whole catalogue is loaded at once: a policy's contract terms come from the version that was
effective on its own effective date, and declared rates from the day they are used, so the rules pick
versions themselves. Loading is strict (unknown keys, YAML floats for money or rates, overlapping
versions, tables that do not fit the product, figures beyond regulation.yaml all raise RateTableError)
and cached per directory: the data ships with the code, so every process builds the same catalogue.
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from epolicy.products.tables import (
    DATA_DIR,
    RateTableError,
    _bool,
    _date,
    _decimal,
    _digest,
    _fail,
    _keys,
    _list,
    _mapping,
    _read_yaml,
    _str,
)
from epolicy.rules.life.catalogue import (
    AgeValue,
    BenefitPayment,
    DeclaredRates,
    DividendDeclaration,
    HealthQuestion,
    LifeCatalogue,
    PremiumBand,
    Product,
    ProductTerms,
    RatePoint,
    RateSeries,
    Regulation,
    ServicingTerms,
    UniversalTerms,
    Version,
)
from epolicy.rules.life.completeness import product_problems
from epolicy.rules.life.items import RULES_BY_CODE
from epolicy.rules.life.vocab import (
    DIVIDEND_OPTIONS,
    FREQUENCIES,
    PRODUCT_KINDS,
    SURVIVAL_OPTIONS,
    DividendOption,
    Frequency,
    ProductKind,
    SurvivalOption,
)

LIFE_DIR = DATA_DIR / "life"
REGULATION_FILE = "regulation.yaml"

_TERMS_REQUIRED = {
    "items",
    "frequencies",
    "premium_term_years",
    "coverage_years",
    "issue_ages",
    "premium_rates",
    "cash_values",
    "min_sum_assured",
    "sum_assured_unit",
    "servicing",
}
_TERMS_OPTIONAL = {
    "survival_benefits",
    "maturity_share",
    "dividend_options",
    "survival_options",
    "paid_up_additions",
    "universal",
    "health_questions",
}


def _int(value: Any, where: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(where, f"expected an integer ≥ {minimum}, got {value!r}")
    return value


def _rate(value: Any, where: str) -> Decimal:
    rate = _decimal(value, where)
    if not 0 <= rate <= 1:
        raise _fail(where, f"a rate is a fraction between 0 and 1, got {rate}")
    return rate


def _amount(value: Any, where: str) -> Decimal:
    amount = _decimal(value, where)
    if amount < 0:
        raise _fail(where, "negative amount")
    return amount


def _ages(value: Any, where: str) -> tuple[int, int]:
    pair = _list(value, where)
    if len(pair) != 2:
        raise _fail(where, "expected [from, to]")
    low, high = _int(pair[0], where), _int(pair[1], where)
    if high < low:
        raise _fail(where, f"ages {low}-{high} are reversed")
    return low, high


# ----------------------------------------------------------------------------- regulation


def _regulation(path: Path) -> tuple[Regulation, tuple[tuple[date, Decimal], ...]]:
    data = _keys(
        _read_yaml(path),
        str(path),
        required={"source", "cooling_off_min_days", "cooling_off_fee_cap", "universal_guaranteed_rate_caps"},
    )
    caps = []
    for i, raw in enumerate(_list(data["universal_guaranteed_rate_caps"], f"{path}: caps")):
        cap = _keys(raw, f"{path}: caps[{i}]", required={"filed_from", "cap"})
        caps.append((_date(cap["filed_from"], f"{path}: caps[{i}]"), _rate(cap["cap"], f"{path}: caps[{i}]")))
    regulation = Regulation(
        cooling_off_min_days=_int(data["cooling_off_min_days"], f"{path}: cooling_off_min_days", minimum=1),
        cooling_off_fee_cap=_amount(data["cooling_off_fee_cap"], f"{path}: cooling_off_fee_cap"),
        source=_str(data["source"], f"{path}: source"),
    )
    return regulation, tuple(sorted(caps))


# ----------------------------------------------------------------------------- terms


def _servicing(raw: Any, where: str, regulation: Regulation) -> ServicingTerms:
    data = _keys(
        raw,
        where,
        required={"cooling_off_days", "cooling_off_fee", "grace_days", "reinstatement_years", "loan"},
    )
    days = _int(data["cooling_off_days"], f"{where}.cooling_off_days")
    if days < regulation.cooling_off_min_days:
        raise _fail(where, f"cooling_off_days {days} below the regulatory {regulation.cooling_off_min_days}")
    fee = _amount(data["cooling_off_fee"], f"{where}.cooling_off_fee")
    if fee > regulation.cooling_off_fee_cap:
        raise _fail(where, f"cooling_off_fee {fee} above the regulatory cap {regulation.cooling_off_fee_cap}")
    terms = ServicingTerms(
        cooling_off_days=days,
        cooling_off_fee=fee,
        grace_days=_int(data["grace_days"], f"{where}.grace_days"),
        reinstatement_years=_int(data["reinstatement_years"], f"{where}.reinstatement_years", minimum=1),
    )
    if data["loan"] is None:
        return terms
    loan = _keys(data["loan"], f"{where}.loan", required={"share", "term_days", "min"})
    share = _rate(loan["share"], f"{where}.loan.share")
    if share == 0:
        raise _fail(f"{where}.loan.share", "a loan share of 0: write loan: null instead")
    return ServicingTerms(
        cooling_off_days=terms.cooling_off_days,
        cooling_off_fee=terms.cooling_off_fee,
        grace_days=terms.grace_days,
        reinstatement_years=terms.reinstatement_years,
        loan_share=share,
        loan_term_days=_int(loan["term_days"], f"{where}.loan.term_days", minimum=1),
        loan_min=_amount(loan["min"], f"{where}.loan.min"),
    )


def _universal(raw: Any, where: str) -> UniversalTerms:
    data = _keys(
        raw,
        where,
        required={
            "guaranteed_rate",
            "initial_charge_rate",
            "withdrawal_fee_rates",
            "surrender_charge_rates",
            "free_withdrawal_share",
            "min_remaining_value",
            "min_withdrawal",
            "additional_premium",
        },
    )
    extra = _keys(data["additional_premium"], f"{where}.additional_premium", required={"min", "max"})
    return UniversalTerms(
        guaranteed_rate=_rate(data["guaranteed_rate"], f"{where}.guaranteed_rate"),
        initial_charge_rate=_rate(data["initial_charge_rate"], f"{where}.initial_charge_rate"),
        withdrawal_fee_rates=tuple(
            _rate(r, f"{where}.withdrawal_fee_rates") for r in _list(data["withdrawal_fee_rates"], where)
        ),
        surrender_charge_rates=tuple(
            _rate(r, f"{where}.surrender_charge_rates") for r in _list(data["surrender_charge_rates"], where)
        ),
        free_withdrawal_share=_rate(data["free_withdrawal_share"], f"{where}.free_withdrawal_share"),
        min_remaining_value=_amount(data["min_remaining_value"], f"{where}.min_remaining_value"),
        min_withdrawal=_amount(data["min_withdrawal"], f"{where}.min_withdrawal"),
        min_additional_premium=_amount(extra["min"], f"{where}.additional_premium.min"),
        max_additional_premium=_amount(extra["max"], f"{where}.additional_premium.max"),
    )


def _choices(raw: Any, where: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = tuple(_str(v, where) for v in _list(raw, where))
    unknown = set(values) - set(allowed)
    if unknown or len(set(values)) != len(values):
        raise _fail(where, f"unknown or repeated {sorted(unknown)}; allowed {list(allowed)}")
    return values


def _terms(raw: Any, where: str, version: Version, kind: ProductKind, regulation: Regulation) -> ProductTerms:
    version_keys = {"effective_from", "source", "confirmed"}
    optional = _TERMS_OPTIONAL | {"note", "effective_to"}
    data = _keys(raw, where, required=_TERMS_REQUIRED | version_keys, optional=optional)
    items = frozenset(_choices(data["items"], f"{where}.items", tuple(RULES_BY_CODE)))
    frequencies: dict[Frequency, Decimal] = {}
    for name, factor in _mapping(data["frequencies"], f"{where}.frequencies").items():
        if name not in FREQUENCIES:
            raise _fail(f"{where}.frequencies", f"unknown frequency {name!r}")
        frequencies[cast(Frequency, name)] = _decimal(factor, f"{where}.frequencies.{name}")
    low, high = _ages(data["issue_ages"], f"{where}.issue_ages")
    bands = []
    for i, band in enumerate(_list(data["premium_rates"], f"{where}.premium_rates")):
        b = _keys(band, f"{where}.premium_rates[{i}]", required={"ages", "male", "female"})
        a, z = _ages(b["ages"], f"{where}.premium_rates[{i}].ages")
        bands.append(PremiumBand(a, z, _amount(b["male"], where), _amount(b["female"], where)))
    pua = []
    for i, band in enumerate(_list(data.get("paid_up_additions", []), f"{where}.paid_up_additions")):
        b = _keys(band, f"{where}.paid_up_additions[{i}]", required={"ages", "nsp_per_1000"})
        a, z = _ages(b["ages"], f"{where}.paid_up_additions[{i}].ages")
        pua.append(AgeValue(a, z, _amount(b["nsp_per_1000"], where)))
    benefits = []
    for i, item in enumerate(_list(data.get("survival_benefits", []), f"{where}.survival_benefits")):
        b = _keys(item, f"{where}.survival_benefits[{i}]", required={"policy_year", "share"})
        benefits.append(BenefitPayment(_int(b["policy_year"], where, minimum=1), _rate(b["share"], where)))
    questions = []
    for i, item in enumerate(_list(data.get("health_questions", []), f"{where}.health_questions")):
        q = _keys(item, f"{where}.health_questions[{i}]", required={"code", "text_zh"})
        questions.append(HealthQuestion(_str(q["code"], where), _str(q["text_zh"], where)))
    coverage = data["coverage_years"]
    maturity = data.get("maturity_share")
    terms = ProductTerms(
        version=version,
        items=items,
        frequencies=frequencies,
        premium_term_years=_int(data["premium_term_years"], f"{where}.premium_term_years"),
        coverage_years=None if coverage is None else _int(coverage, f"{where}.coverage_years", minimum=1),
        issue_age_min=low,
        issue_age_max=high,
        premium_rates=tuple(bands),
        cash_values=tuple(_amount(v, f"{where}.cash_values") for v in _list(data["cash_values"], where)),
        min_sum_assured=_amount(data["min_sum_assured"], f"{where}.min_sum_assured"),
        sum_assured_unit=_amount(data["sum_assured_unit"], f"{where}.sum_assured_unit"),
        servicing=_servicing(data["servicing"], f"{where}.servicing", regulation),
        survival_benefits=tuple(benefits),
        maturity_share=None if maturity is None else _rate(maturity, f"{where}.maturity_share"),
        dividend_options=cast(
            tuple[DividendOption, ...],
            _choices(data.get("dividend_options", []), f"{where}.dividend_options", DIVIDEND_OPTIONS),
        ),
        survival_options=cast(
            tuple[SurvivalOption, ...],
            _choices(data.get("survival_options", []), f"{where}.survival_options", SURVIVAL_OPTIONS),
        ),
        paid_up_addition_rates=tuple(pua),
        universal=None
        if data.get("universal") is None
        else _universal(data["universal"], f"{where}.universal"),
        health_questions=tuple(questions),
    )
    return terms


# ----------------------------------------------------------------------------- declared rates


def _series(name: str, raw: Any, where: str) -> RateSeries:
    points = []
    for i, item in enumerate(_list(raw, where)):
        p = _keys(item, f"{where}[{i}]", required={"effective_from", "rate", "confirmed"}, optional={"note"})
        points.append(
            RatePoint(
                effective_from=_date(p["effective_from"], f"{where}[{i}]"),
                rate=_rate(p["rate"], f"{where}[{i}].rate"),
                confirmed=_bool(p["confirmed"], f"{where}[{i}].confirmed"),
                note=str(p.get("note") or ""),
            )
        )
    try:
        return RateSeries(name=name, points=tuple(points))
    except ValueError as exc:
        raise _fail(where, str(exc)) from None


_SERIES_NAMES = {
    "loan_interest": "保单借款利率",
    "accumulation": "累积生息利率",
    "reinstatement_interest": "复效利率",
    "crediting": "万能账户结算利率",
}


def _declared(raw: Any, where: str) -> DeclaredRates:
    data = _keys(raw, where, required=set(), optional=set(_SERIES_NAMES) | {"dividends"})
    series = {
        key: _series(zh, data[key], f"{where}.{key}") for key, zh in _SERIES_NAMES.items() if key in data
    }
    dividends = {}
    for year, item in _mapping(data.get("dividends", {}), f"{where}.dividends").items():
        d = _keys(item, f"{where}.dividends.{year}", required={"rate", "confirmed"})
        y = _int(year, f"{where}.dividends", minimum=1900)
        dividends[y] = DividendDeclaration(y, _rate(d["rate"], where), _bool(d["confirmed"], where))
    return DeclaredRates(dividends=dividends, **series)


# ----------------------------------------------------------------------------- products


def _product(path: Path, regulation: Regulation, caps: tuple[tuple[date, Decimal], ...]) -> Product:
    top = _keys(_read_yaml(path), str(path), required={"product", "versions", "declared"})
    head = _keys(top["product"], f"{path}: product", required={"code", "name_zh", "kind", "demo", "source"})
    kind = head["kind"]
    if kind not in PRODUCT_KINDS:
        raise _fail(f"{path}: product.kind", f"expected one of {list(PRODUCT_KINDS)}")
    code = _str(head["code"], f"{path}: product.code")
    demo = _bool(head["demo"], f"{path}: product.demo")
    versions = []
    for i, raw in enumerate(_list(top["versions"], f"{path}: versions")):
        where = f"{path}: versions[{i}]"
        data = _mapping(raw, where)
        effective_to = data.get("effective_to")
        version = Version(
            name=code,
            effective_from=_date(data.get("effective_from"), f"{where}.effective_from"),
            effective_to=None if effective_to is None else _date(effective_to, f"{where}.effective_to"),
            source=_str(data.get("source"), f"{where}.source"),
            confirmed=_bool(data.get("confirmed"), f"{where}.confirmed"),
            digest=_digest(data),
        )
        if demo and version.confirmed:
            raise _fail(where, "demo data cannot be confirmed")
        terms = _terms(data, where, version, cast(ProductKind, kind), regulation)
        if terms.universal is not None:
            applicable = [cap for filed_from, cap in caps if filed_from <= version.effective_from]
            if applicable and terms.universal.guaranteed_rate > applicable[-1]:
                raise _fail(where, f"guaranteed rate above the {applicable[-1]} cap for its filing date")
        versions.append(terms)
    versions.sort(key=lambda t: t.version.effective_from)
    declared = _declared(top["declared"], f"{path}: declared")
    try:
        product = Product(
            code=code,
            name_zh=_str(head["name_zh"], f"{path}: product.name_zh"),
            kind=cast(ProductKind, kind),
            demo=demo,
            source=_str(head["source"], f"{path}: product.source"),
            versions=tuple(versions),
            declared=declared,
        )
    except ValueError as exc:
        raise _fail(str(path), str(exc)) from None
    problems = product_problems(product)
    if problems:
        raise RateTableError(f"{path}: " + "; ".join(problems))
    return product


@functools.lru_cache(maxsize=8)
def _catalogue(directory: Path) -> LifeCatalogue:
    regulation, caps = _regulation(directory / REGULATION_FILE)
    products: dict[str, Product] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name == REGULATION_FILE:
            continue
        product = _product(path, regulation, caps)
        if product.code in products:
            raise RateTableError(f"{path}: product code {product.code} defined twice")
        products[product.code] = product
    if not products:
        raise RateTableError(f"{directory}: no life products")
    return LifeCatalogue(products=products, regulation=regulation)


def load_life_catalogue(*, data_dir: Path | str | None = None) -> LifeCatalogue:
    """Every life product with all its versions and declared rates (RateTableError if the data is bad)."""
    directory = LIFE_DIR if data_dir is None else Path(data_dir).resolve()
    return _catalogue(directory)


def catalogue_versions(catalogue: LifeCatalogue) -> tuple[str, ...]:
    """'DEMO-UL@2024-10-01#<digest>', ...: every product version in the catalogue, for audit records."""
    return tuple(t.version.label for p in catalogue.products.values() for t in p.versions)
