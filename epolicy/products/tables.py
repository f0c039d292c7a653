"""Effective-dated rate tables: the YAML files in products/data turned into the rules' table dataclasses.

Each file holds `versions`, each with effective_from, optional effective_to (inclusive), source and
confirmed. A loader picks the one version effective on a date (ApplicationError rate_table_missing when
none is), checks it strictly (unknown keys, YAML floats for money, overlapping versions, regional amounts
outside the national range all raise RateTableError) and caches the result per file and date. The
caches hold immutable data read from files shipped with the code, so every process builds the same thing.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

import yaml

from epolicy.common.errors import ApplicationError
from epolicy.rules.motor.ctpl import (
    BASES,
    FLOATING_CODES,
    BasePremiumTable,
    Basis,
    CtplLimits,
    CtplTables,
    FloatingPlan,
    FloatingTable,
    LimitsTable,
    PremiumBand,
    PremiumClass,
    TableVersion,
)
from epolicy.rules.motor.vehicle_tax import BASES as TAX_BASES
from epolicy.rules.motor.vehicle_tax import (
    EXEMPTIONS,
    ClassAmounts,
    Exemption,
    RegionalSchedule,
    Relief,
    TaxBand,
    TonnageRule,
    VehicleClassRule,
    VehicleTaxTable,
)
from epolicy.rules.motor.vehicle_tax import Basis as TaxBasis

DATA_DIR = Path(__file__).resolve().parent / "data"
REGIONS_FILE = "regions.yaml"
CTPL_LIMITS_FILE = "ctpl_limits.yaml"
CTPL_BASE_PREMIUM_FILE = "ctpl_base_premium.yaml"
CTPL_FLOATING_FILE = "ctpl_floating.yaml"
VEHICLE_TAX_FILE = "vehicle_tax.yaml"
VERSIONED_FILES = (CTPL_BASE_PREMIUM_FILE, CTPL_FLOATING_FILE, CTPL_LIMITS_FILE, VEHICLE_TAX_FILE)

_VERSION_KEYS = {"effective_from", "effective_to", "source", "confirmed", "note"}


class RateTableError(Exception):
    """A data file is malformed or breaks a rule of its table: a deployment error, never a user's."""


# ----------------------------------------------------------------- parsing helpers


def _fail(where: str, message: str) -> RateTableError:
    return RateTableError(f"{where}: {message}")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"expected a mapping, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, f"expected a list, got {type(value).__name__}")
    return value


def _keys(value: Any, where: str, *, required: Iterable[str], optional: Iterable[str] = ()) -> dict[str, Any]:
    """The mapping, refusing missing and unknown keys (a misspelt key must not be silently ignored)."""
    data = _mapping(value, where)
    required = set(required)
    missing = required - set(data)
    unknown = set(data) - required - set(optional)
    if missing:
        raise _fail(where, f"missing {sorted(missing)}")
    if unknown:
        raise _fail(where, f"unknown keys {sorted(unknown)} (a typo?)")
    return data


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, "expected a non-empty string")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, "expected true or false")
    return value


def _decimal(value: Any, where: str) -> Decimal:
    # YAML floats are refused: write money and rates as integers or quoted strings ("-0.30").
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _fail(where, f"expected an integer or a quoted decimal string, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _fail(where, f"not a decimal number: {value!r}") from None
    if not number.is_finite():
        raise _fail(where, f"not a finite number: {value!r}")
    return number


def _opt_decimal(value: Any, where: str) -> Decimal | None:
    return None if value is None else _decimal(value, where)


def _date(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _fail(where, f"expected a date YYYY-MM-DD, got {value!r}")


def _region_code(value: Any, where: str, regions: Mapping[str, str]) -> str:
    code = str(value)
    if code not in regions:
        raise _fail(where, f"region {code!r} is not in {REGIONS_FILE}")
    return code


# -------------------------------------------------------------- files and versions


@dataclass(frozen=True)
class _File:
    path: Path
    top: Mapping[str, Any]
    versions: tuple[tuple[TableVersion, Mapping[str, Any]], ...]  # sorted by effective_from


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise RateTableError(f"{path}: rate table file missing") from None
    except yaml.YAMLError as exc:
        raise RateTableError(f"{path}: not valid YAML: {exc}") from None


def _digest(raw: Mapping[str, Any]) -> str:
    text = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@functools.lru_cache(maxsize=64)
def _read_versioned(path: Path) -> _File:
    top = _keys(_read_yaml(path), str(path), required={"versions"}, optional={"factors"})
    if "factors" in top:
        _keys(top["factors"], f"{path}: factors", required=FLOATING_CODES)
    name = path.stem
    parsed: list[tuple[TableVersion, Mapping[str, Any]]] = []
    for i, raw in enumerate(_list(top.get("versions"), f"{path}: versions")):
        where = f"{path}: versions[{i}]"
        data = _mapping(raw, where)
        for key in ("effective_from", "source", "confirmed"):
            if key not in data:
                raise _fail(where, f"missing {key}")
        effective_to = data.get("effective_to")
        try:
            version = TableVersion(
                name=name,
                effective_from=_date(data["effective_from"], f"{where}.effective_from"),
                effective_to=None if effective_to is None else _date(effective_to, f"{where}.effective_to"),
                source=_str(data["source"], f"{where}.source"),
                confirmed=_bool(data["confirmed"], f"{where}.confirmed"),
                digest=_digest(data),
            )
        except ValueError as exc:
            raise _fail(where, str(exc)) from None
        parsed.append((version, data))
    if not parsed:
        raise RateTableError(f"{path}: no versions")
    parsed.sort(key=lambda item: item[0].effective_from)
    for (prev, _), (nxt, _) in itertools.pairwise(parsed):
        if prev.effective_to is None or prev.effective_to >= nxt.effective_from:
            raise RateTableError(
                f"{path}: versions from {prev.effective_from} and {nxt.effective_from} overlap "
                "(give the earlier one an effective_to before the later one starts)"
            )
    return _File(path=path, top=top, versions=tuple(parsed))


def _select(path: Path, on: date) -> int:
    """Index of the version effective on a date; rate_table_missing when none is."""
    file = _read_versioned(path)
    for index, (version, _) in enumerate(file.versions):
        if version.covers(on):
            return index
    raise ApplicationError(
        "rate_table_missing",
        f"{on.isoformat()} 没有适用的费率表（{path.stem}），请联系保险公司。",
        {"table": path.stem, "on": on.isoformat()},
    )


def _version(path: Path, index: int) -> tuple[TableVersion, Mapping[str, Any], str]:
    version, data = _read_versioned(path).versions[index]
    return version, data, f"{path}: versions[effective_from={version.effective_from}]"


@functools.lru_cache(maxsize=8)
def _regions(path: Path) -> Mapping[str, str]:
    top = _keys(_read_yaml(path), str(path), required={"regions"}, optional={"source"})
    regions: dict[str, str] = {}
    for code, name in _mapping(top["regions"], f"{path}: regions").items():
        code = str(code)
        if len(code) != 6 or not code.isdigit():
            raise _fail(f"{path}: regions", f"{code!r} is not a 6-digit division code (quote it in YAML)")
        regions[code] = _str(name, f"{path}: regions.{code}")
    return regions


# ------------------------------------------------------------------------ builders


@functools.lru_cache(maxsize=16)
def _limits_table(path: Path, index: int) -> LimitsTable:
    version, data, where = _version(path, index)
    _keys(data, where, required={"effective_from", "source", "confirmed", "limits"}, optional=_VERSION_KEYS)
    limits = _keys(data["limits"], f"{where}.limits", required={"at_fault", "no_fault"})
    parts = {"death_disability", "medical", "property"}
    at = _keys(limits["at_fault"], f"{where}.limits.at_fault", required=parts)
    no = _keys(limits["no_fault"], f"{where}.limits.no_fault", required=parts)
    try:
        amounts = CtplLimits(
            death_disability_at_fault=_decimal(at["death_disability"], f"{where}.at_fault.death_disability"),
            medical_at_fault=_decimal(at["medical"], f"{where}.at_fault.medical"),
            property_at_fault=_decimal(at["property"], f"{where}.at_fault.property"),
            death_disability_no_fault=_decimal(no["death_disability"], f"{where}.no_fault.death_disability"),
            medical_no_fault=_decimal(no["medical"], f"{where}.no_fault.medical"),
            property_no_fault=_decimal(no["property"], f"{where}.no_fault.property"),
        )
    except ValueError as exc:
        raise _fail(where, str(exc)) from None
    return LimitsTable(version=version, limits=amounts)


def _premium_class(code: str, raw: Any, where: str) -> PremiumClass:
    data = _keys(
        raw,
        where,
        required={"name_zh", "basis"},
        optional={"bands", "upper_inclusive", "available", "unavailable_reason_zh"},
    )
    basis = data["basis"]
    if basis not in BASES:
        raise _fail(where, f"basis must be one of {list(BASES)}")
    bands: list[PremiumBand] = []
    for i, band_raw in enumerate(_list(data.get("bands", []), f"{where}.bands")):
        bwhere = f"{where}.bands[{i}]"
        band = _keys(band_raw, bwhere, required={"premium", "label_zh"}, optional={"lower", "upper"})
        bands.append(
            PremiumBand(
                premium=_decimal(band["premium"], f"{bwhere}.premium"),
                label_zh=_str(band["label_zh"], f"{bwhere}.label_zh"),
                lower=_opt_decimal(band.get("lower"), f"{bwhere}.lower"),
                upper=_opt_decimal(band.get("upper"), f"{bwhere}.upper"),
            )
        )
    reason = data.get("unavailable_reason_zh")
    return PremiumClass(
        code=code,
        name_zh=_str(data["name_zh"], f"{where}.name_zh"),
        basis=cast(Basis, basis),
        bands=tuple(bands),
        upper_inclusive=_bool(data.get("upper_inclusive", False), f"{where}.upper_inclusive"),
        available=_bool(data.get("available", True), f"{where}.available"),
        unavailable_reason_zh=None
        if reason is None
        else _str(reason, f"{where}.unavailable_reason_zh").strip(),
    )


@functools.lru_cache(maxsize=16)
def _base_premium_table(path: Path, index: int) -> BasePremiumTable:
    version, data, where = _version(path, index)
    _keys(
        data,
        where,
        required={"effective_from", "source", "confirmed", "trailer", "classes"},
        optional=_VERSION_KEYS,
    )
    trailer = _keys(data["trailer"], f"{where}.trailer", required={"factor", "applies_to"})
    classes: dict[str, PremiumClass] = {}
    try:
        for code, raw in _mapping(data["classes"], f"{where}.classes").items():
            classes[str(code)] = _premium_class(str(code), raw, f"{where}.classes.{code}")
        return BasePremiumTable(
            version=version,
            classes=classes,
            trailer_factor=_decimal(trailer["factor"], f"{where}.trailer.factor"),
            trailer_classes=frozenset(
                str(c) for c in _list(trailer["applies_to"], f"{where}.trailer.applies_to")
            ),
        )
    except ValueError as exc:
        raise _fail(where, str(exc)) from None


@functools.lru_cache(maxsize=16)
def _floating_table(path: Path, index: int, regions_path: Path) -> FloatingTable:
    version, data, where = _version(path, index)
    _keys(
        data,
        where,
        required={"effective_from", "source", "confirmed", "rate_floor", "rate_cap", "plans"},
        optional=_VERSION_KEYS,
    )
    known = _regions(regions_path)
    plans: list[FloatingPlan] = []
    for code, raw in _mapping(data["plans"], f"{where}.plans").items():
        pwhere = f"{where}.plans.{code}"
        plan = _keys(raw, pwhere, required={"name_zh", "confirmed", "source", "rates", "regions"})
        rates_raw = _keys(plan["rates"], f"{pwhere}.rates", required=set(FLOATING_CODES))
        rates: dict[str, Decimal] = {
            fc: _decimal(rates_raw[fc], f"{pwhere}.rates.{fc}") for fc in FLOATING_CODES
        }
        if plan["regions"] == "all":
            plan_regions = dict(known)
        else:
            plan_regions = {}
            for region, name in _mapping(plan["regions"], f"{pwhere}.regions").items():
                region = _region_code(region, f"{pwhere}.regions", known)
                if name != known[region]:
                    raise _fail(f"{pwhere}.regions.{region}", f"name {name!r} differs from {known[region]!r}")
                plan_regions[region] = known[region]
        try:
            plans.append(
                FloatingPlan(
                    code=str(code),
                    name_zh=_str(plan["name_zh"], f"{pwhere}.name_zh"),
                    rates=rates,
                    regions=plan_regions,
                    confirmed=_bool(plan["confirmed"], f"{pwhere}.confirmed"),
                    source=_str(plan["source"], f"{pwhere}.source"),
                )
            )
        except ValueError as exc:
            raise _fail(pwhere, str(exc)) from None
    if version.confirmed and not all(p.confirmed for p in plans):
        raise _fail(where, "a version marked confirmed may not contain an unconfirmed plan")
    try:
        return FloatingTable(
            version=version,
            plans=tuple(plans),
            rate_floor=_decimal(data["rate_floor"], f"{where}.rate_floor"),
            rate_cap=_decimal(data["rate_cap"], f"{where}.rate_cap"),
        )
    except ValueError as exc:
        raise _fail(where, str(exc)) from None


def _int(value: Any, where: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(where, f"expected an integer ≥ {minimum}")
    return value


def _opt_int(value: Any, where: str, *, minimum: int = 0) -> int | None:
    return None if value is None else _int(value, where, minimum=minimum)


def _opt_date(value: Any, where: str) -> date | None:
    return None if value is None else _date(value, where)


def _tax_band(raw: Any, where: str, basis: str) -> TaxBand:
    bounds = {
        "displacement": {"lower_l", "upper_l"},
        "seats": {"min_seats", "max_seats"},
    }.get(basis, set())
    band = _keys(raw, where, required={"code", "min", "max", "label_zh", *bounds})
    return TaxBand(
        code=_str(band["code"], f"{where}.code"),
        label_zh=_str(band["label_zh"], f"{where}.label_zh"),
        national_min=_decimal(band["min"], f"{where}.min"),
        national_max=_decimal(band["max"], f"{where}.max"),
        lower_l=_opt_decimal(band.get("lower_l"), f"{where}.lower_l"),
        upper_l=_opt_decimal(band.get("upper_l"), f"{where}.upper_l"),
        min_seats=_opt_int(band.get("min_seats"), f"{where}.min_seats", minimum=1),
        max_seats=_opt_int(band.get("max_seats"), f"{where}.max_seats", minimum=1),
    )


def _vehicle_class(code: str, raw: Any, where: str) -> VehicleClassRule:
    data = _keys(
        raw,
        where,
        required={"name_zh", "basis"},
        optional={"bands", "derived_from", "factor", "reason_zh", "min_seats", "max_seats"},
    )
    basis = data["basis"]
    if basis not in TAX_BASES:
        raise _fail(where, f"basis must be one of {list(TAX_BASES)}")
    bands = tuple(
        _tax_band(raw_band, f"{where}.bands[{i}]", basis)
        for i, raw_band in enumerate(_list(data.get("bands", []), f"{where}.bands"))
    )
    derived = data.get("derived_from")
    reason = data.get("reason_zh")
    return VehicleClassRule(
        code=code,
        name_zh=_str(data["name_zh"], f"{where}.name_zh"),
        basis=cast(TaxBasis, basis),
        bands=bands,
        derived_from=None if derived is None else _str(derived, f"{where}.derived_from"),
        factor=_decimal(data.get("factor", 1), f"{where}.factor"),
        reason_zh=None if reason is None else _str(reason, f"{where}.reason_zh"),
        min_seats=_opt_int(data.get("min_seats"), f"{where}.min_seats", minimum=1),
        max_seats=_opt_int(data.get("max_seats"), f"{where}.max_seats", minimum=1),
    )


def _relief(raw: Any, where: str) -> Relief:
    data = _keys(
        raw,
        where,
        required={"code", "treatment", "classes", "energy_types", "reason_zh", "effective_from", "source"},
        optional={"effective_to", "confirmed", "reported_end_on"},
    )
    if data["treatment"] not in EXEMPTIONS:
        raise _fail(f"{where}.treatment", f"must be one of {list(EXEMPTIONS)}")
    return Relief(
        code=_str(data["code"], f"{where}.code"),
        treatment=cast(Exemption, data["treatment"]),
        classes=frozenset(_str(c, f"{where}.classes") for c in _list(data["classes"], f"{where}.classes")),
        energy_types=frozenset(
            _str(e, f"{where}.energy_types") for e in _list(data["energy_types"], f"{where}.energy_types")
        ),
        reason_zh=_str(data["reason_zh"], f"{where}.reason_zh"),
        effective_from=_date(data["effective_from"], f"{where}.effective_from"),
        effective_to=_opt_date(data.get("effective_to"), f"{where}.effective_to"),
        source=_str(data["source"], f"{where}.source"),
        confirmed=_bool(data.get("confirmed", False), f"{where}.confirmed"),
        reported_end_on=_opt_date(data.get("reported_end_on"), f"{where}.reported_end_on"),
    )


def _class_amounts(raw: Any, where: str) -> ClassAmounts:
    item = _keys(raw, where, required={"source", "confirmed", "demo", "amounts"})
    demo = _bool(item["demo"], f"{where}.demo")
    confirmed = _bool(item["confirmed"], f"{where}.confirmed")
    if demo and confirmed:
        raise _fail(where, "a demo schedule cannot be confirmed")
    return ClassAmounts(
        amounts={
            str(b): _decimal(a, f"{where}.amounts.{b}")
            for b, a in _mapping(item["amounts"], f"{where}.amounts").items()
        },
        source=_str(item["source"], f"{where}.source"),
        confirmed=confirmed,
        demo=demo,
    )


@functools.lru_cache(maxsize=16)
def _vehicle_tax_table(path: Path, index: int, regions_path: Path) -> VehicleTaxTable:
    version, data, where = _version(path, index)
    _keys(
        data,
        where,
        required={"effective_from", "source", "confirmed", "tonnage", "classes", "reliefs", "schedules"},
        optional=_VERSION_KEYS,
    )
    known = _regions(regions_path)
    try:
        tonnage = _keys(data["tonnage"], f"{where}.tonnage", required={"places", "confirmed", "source"})
        classes = {
            str(code): _vehicle_class(str(code), raw, f"{where}.classes.{code}")
            for code, raw in _mapping(data["classes"], f"{where}.classes").items()
        }
        reliefs = tuple(
            _relief(raw, f"{where}.reliefs[{i}]")
            for i, raw in enumerate(_list(data["reliefs"], f"{where}.reliefs"))
        )
        schedules = {}
        for region, raw in _mapping(data["schedules"], f"{where}.schedules").items():
            swhere = f"{where}.schedules.{region}"
            region = _region_code(region, swhere, known)
            item = _mapping(raw, swhere)
            if item.get("region_name") != known[region]:
                raise _fail(swhere, f"region_name {item.get('region_name')!r} differs from {known[region]!r}")
            unknown = set(item) - {"region_name"} - set(classes)
            if unknown:
                raise _fail(swhere, f"unknown keys {sorted(unknown)} (a typo? classes are {sorted(classes)})")
            schedules[region] = RegionalSchedule(
                region_code=region,
                region_name=known[region],
                classes={
                    str(c): _class_amounts(part, f"{swhere}.{c}")
                    for c, part in item.items()
                    if c != "region_name"
                },
            )
        return VehicleTaxTable(
            version=version,
            classes=classes,
            schedules=schedules,
            reliefs=reliefs,
            tonnage=TonnageRule(
                places=_opt_int(tonnage["places"], f"{where}.tonnage.places"),
                source=_str(tonnage["source"], f"{where}.tonnage.source"),
                confirmed=_bool(tonnage["confirmed"], f"{where}.tonnage.confirmed"),
            ),
            region_names=known,
        )
    except ValueError as exc:
        raise _fail(where, str(exc)) from None


# ---------------------------------------------------------------------- public API


def _dir(data_dir: Path | str | None) -> Path:
    return DATA_DIR if data_dir is None else Path(data_dir).resolve()


@functools.lru_cache(maxsize=256)
def _ctpl_tables(directory: Path, on: date) -> CtplTables:
    regions_path = directory / REGIONS_FILE
    limits_path = directory / CTPL_LIMITS_FILE
    base_path = directory / CTPL_BASE_PREMIUM_FILE
    floating_path = directory / CTPL_FLOATING_FILE
    return CtplTables(
        base_premium=_base_premium_table(base_path, _select(base_path, on)),
        floating=_floating_table(floating_path, _select(floating_path, on), regions_path),
        limits=_limits_table(limits_path, _select(limits_path, on)),
        region_names=_regions(regions_path),
    )


@functools.lru_cache(maxsize=256)
def _vehicle_tax(directory: Path, on: date) -> VehicleTaxTable:
    path = directory / VEHICLE_TAX_FILE
    table = _vehicle_tax_table(path, _select(path, on), directory / REGIONS_FILE)
    # The version's reliefs are effective-dated on their own: the table says the date they are read on.
    return dataclasses.replace(table, as_of=on)


def load_ctpl_tables(on: date, *, data_dir: Path | str | None = None) -> CtplTables:
    """The 交强险 base premium, floating and limits tables effective on a date (else rate_table_missing)."""
    return _ctpl_tables(_dir(data_dir), on)


def load_vehicle_tax_table(on: date, *, data_dir: Path | str | None = None) -> VehicleTaxTable:
    """The 车船税 table effective on a date, its reliefs as in force that day (rate_table_missing if none)."""
    return _vehicle_tax(_dir(data_dir), on)


def tables_version(on: date | None = None, *, data_dir: Path | str | None = None) -> str:
    """'ctpl_base_premium@2008-02-01#<digest>; ...': the version of every rate file effective on a date.

    The digest is of the version's own content, so an edit to a table without a new effective date still
    changes the string recorded with a quote. Without a date, today's business date is used.
    """
    if on is None:
        from epolicy.common.clock import today  # the clock needs Django; the loaders do not

        on = today()
    directory = _dir(data_dir)
    labels = []
    for filename in VERSIONED_FILES:
        path = directory / filename
        version, _ = _read_versioned(path).versions[_select(path, on)]
        labels.append(version.label)
    return "; ".join(labels)


def validate_all(*, data_dir: Path | str | None = None) -> list[str]:
    """Build every version of every rate file (not only today's): for CI and after editing the data."""
    directory = _dir(data_dir)
    regions_path = directory / REGIONS_FILE
    _regions(regions_path)
    labels: list[str] = []
    builders = {
        CTPL_LIMITS_FILE: lambda p, i: _limits_table(p, i),
        CTPL_BASE_PREMIUM_FILE: lambda p, i: _base_premium_table(p, i),
        CTPL_FLOATING_FILE: lambda p, i: _floating_table(p, i, regions_path),
        VEHICLE_TAX_FILE: lambda p, i: _vehicle_tax_table(p, i, regions_path),
    }
    for filename, build in builders.items():
        path = directory / filename
        for index, (version, _) in enumerate(_read_versioned(path).versions):
            build(path, index)
            labels.append(version.label)
    return labels


def clear_caches() -> None:
    """Forget every parsed file and table (tests, or a long-running process after a data deploy)."""
    for cached in (
        _read_versioned,
        _regions,
        _limits_table,
        _base_premium_table,
        _floating_table,
        _vehicle_tax_table,
        _ctpl_tables,
        _vehicle_tax,
    ):
        cached.cache_clear()
