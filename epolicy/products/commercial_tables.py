"""商业车险 tables: commercial_coverages.yaml and commercial_rates.yaml turned into the rules' dataclasses.

Both files hold `versions` (effective_from, optional inclusive effective_to, source, confirmed). The
loader picks the version effective on a date (ApplicationError rate_table_missing when none is), reads
it strictly (unknown keys, YAML floats for money or rates, overlapping versions, a confirmed version
holding demo figures all raise RateTableError) and caches per file and date, as epolicy.products.tables
does for 交强险 (whose parsing helpers it shares). `commercial_unconfirmed(on)` lists every unconfirmed or
demo table, entry and figure: the caller shows it on quotes and refuses to sell in production until an
insurer has replaced the demo tables and marked them confirmed (docs/commercial-cover.md).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar, cast

from epolicy.products.tables import (
    DATA_DIR,
    REGIONS_FILE,
    _bool,
    _date,
    _decimal,
    _fail,
    _keys,
    _list,
    _mapping,
    _read_versioned,
    _region_code,
    _regions,
    _select,
    _str,
    _version,
)
from epolicy.products.tables import (
    RateTableError as RateTableError,  # re-exported: callers catch it from here
)
from epolicy.rules.motor.commercial import (
    DEFAULT_REGION,
    ClauseSet,
    CoefficientRange,
    CommercialRates,
    CommercialTables,
    CoverageCatalogue,
    DepreciationRow,
    DepreciationTable,
    MainBasis,
    MainCoverage,
    NcdScheme,
    PurePremiums,
    RateRow,
    RegionRates,
    Rider,
    RiderBasis,
    RiderRate,
)

COVERAGES_FILE = "commercial_coverages.yaml"
RATES_FILE = "commercial_rates.yaml"
COMMERCIAL_FILES = (COVERAGES_FILE, RATES_FILE)

_VERSION_KEYS = {"effective_from", "effective_to", "source", "confirmed", "note"}
_T = TypeVar("_T")


# ----------------------------------------------------------------------- helpers


def _strings(value: Any, where: str) -> tuple[str, ...]:
    return tuple(_str(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where)))


def _amounts(value: Any, where: str) -> tuple[Decimal, ...]:
    return tuple(_decimal(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where)))


def _opt(data: Mapping[str, Any], key: str, where: str, parse: Callable[[Any, str], _T]) -> _T | None:
    value = data.get(key)
    return None if value is None else parse(value, f"{where}.{key}")


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, f"expected an integer, got {value!r}")
    return value


def _option_key(key: Any, where: str) -> str:
    """'0.10' and '0.1' name the same option; a service code stays as it is."""
    text = str(key)
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if isinstance(key, float):
        raise _fail(where, f"write the option {key!r} as a quoted string")
    return format(number.normalize(), "f") if number.is_finite() else text


@contextlib.contextmanager
def _at(where: str) -> Iterator[None]:
    """Turn a dataclass's ValueError into a RateTableError naming the place in the file."""
    try:
        yield
    except ValueError as exc:
        raise _fail(where, str(exc)) from None


def _built(where: str, build: Callable[[], _T]) -> _T:
    """Run a dataclass constructor, turning its ValueError into a RateTableError naming the place."""
    try:
        return build()
    except ValueError as exc:
        raise _fail(where, str(exc)) from None


# --------------------------------------------------------------------- catalogue


def _clause_set(code: str, raw: Any, where: str) -> ClauseSet:
    data = _keys(
        raw,
        where,
        required={"name_zh", "effective_from", "energy_types", "excluded_kinds", "source", "confirmed"},
    )
    return _built(
        where,
        lambda: ClauseSet(
            code=code,
            name_zh=_str(data["name_zh"], f"{where}.name_zh"),
            effective_from=_date(data["effective_from"], f"{where}.effective_from"),
            energy_types=frozenset(_strings(data["energy_types"], f"{where}.energy_types")),
            excluded_kinds=frozenset(_strings(data["excluded_kinds"], f"{where}.excluded_kinds")),
            source=_str(data["source"], f"{where}.source"),
            confirmed=_bool(data["confirmed"], f"{where}.confirmed"),
        ),
    )


def _names(raw: Any, where: str) -> dict[str, str]:
    return {str(k): _str(v, f"{where}.{k}") for k, v in _mapping(raw, where).items()}


def _main_coverage(code: str, raw: Any, where: str) -> MainCoverage:
    data = _keys(
        raw,
        where,
        required={"names", "clause_sets", "basis", "source", "confirmed"},
        optional={"amount_options", "included", "note"},
    )
    included = {
        str(cs): _strings(items, f"{where}.included.{cs}")
        for cs, items in _mapping(data.get("included", {}), f"{where}.included").items()
    }
    return _built(
        where,
        lambda: MainCoverage(
            code=code,
            names=_names(data["names"], f"{where}.names"),
            clause_sets=frozenset(_strings(data["clause_sets"], f"{where}.clause_sets")),
            basis=cast(MainBasis, _str(data["basis"], f"{where}.basis")),
            amount_options=_amounts(data.get("amount_options", []), f"{where}.amount_options"),
            included=included,
            source=_str(data["source"], f"{where}.source"),
            confirmed=_bool(data["confirmed"], f"{where}.confirmed"),
        ),
    )


def _rider(code: str, raw: Any, where: str) -> Rider:
    data = _keys(
        raw,
        where,
        required={"names", "clause_sets", "attaches_to", "basis", "source", "confirmed"},
        optional={
            "per_parent",
            "family_only",
            "amount_options",
            "amount_min",
            "amount_max",
            "rate_options",
            "max_days",
            "daily_options",
            "services",
            "max_times",
            "note",
        },
    )
    return _built(
        where,
        lambda: Rider(
            code=code,
            names=_names(data["names"], f"{where}.names"),
            clause_sets=frozenset(_strings(data["clause_sets"], f"{where}.clause_sets")),
            attaches_to=_strings(data["attaches_to"], f"{where}.attaches_to"),
            basis=cast(RiderBasis, _str(data["basis"], f"{where}.basis")),
            per_parent=_bool(data.get("per_parent", False), f"{where}.per_parent"),
            family_only=_bool(data.get("family_only", False), f"{where}.family_only"),
            amount_options=_amounts(data.get("amount_options", []), f"{where}.amount_options"),
            amount_min=_opt(data, "amount_min", where, _decimal),
            amount_max=_opt(data, "amount_max", where, _decimal),
            rate_options=_amounts(data.get("rate_options", []), f"{where}.rate_options"),
            max_days=_opt(data, "max_days", where, _int),
            daily_options=_amounts(data.get("daily_options", []), f"{where}.daily_options"),
            services=_names(data.get("services", {}), f"{where}.services"),
            max_times=_opt(data, "max_times", where, _int),
            source=_str(data["source"], f"{where}.source"),
            confirmed=_bool(data["confirmed"], f"{where}.confirmed"),
        ),
    )


@functools.lru_cache(maxsize=16)
def _catalogue(path: Path, index: int) -> CoverageCatalogue:
    version, data, where = _version(path, index)
    _keys(
        data,
        where,
        required={"effective_from", "source", "confirmed", "clause_sets", "coverages", "riders"},
        optional=_VERSION_KEYS,
    )
    clause_sets = {
        str(c): _clause_set(str(c), raw, f"{where}.clause_sets.{c}")
        for c, raw in _mapping(data["clause_sets"], f"{where}.clause_sets").items()
    }
    coverages = {
        str(c): _main_coverage(str(c), raw, f"{where}.coverages.{c}")
        for c, raw in _mapping(data["coverages"], f"{where}.coverages").items()
    }
    riders = {
        str(c): _rider(str(c), raw, f"{where}.riders.{c}")
        for c, raw in _mapping(data["riders"], f"{where}.riders").items()
    }
    flags = [c.confirmed for c in clause_sets.values()]
    flags += [c.confirmed for c in coverages.values()] + [r.confirmed for r in riders.values()]
    if version.confirmed and not all(flags):
        raise _fail(where, "a version marked confirmed may not contain an unconfirmed entry")
    return _built(
        where,
        lambda: CoverageCatalogue(
            version=version, clause_sets=clause_sets, coverages=coverages, riders=riders
        ),
    )


# ------------------------------------------------------------------------- rates


def _rows(raw: Any, where: str) -> tuple[RateRow, ...]:
    rows = []
    for i, item in enumerate(_list(raw, where)):
        rw = f"{where}[{i}]"
        row = _keys(item, rw, required={"clause_sets", "kinds", "uses", "base"}, optional={"rate"})
        with _at(rw):
            rows.append(
                RateRow(
                    clause_sets=frozenset(_strings(row["clause_sets"], f"{rw}.clause_sets")),
                    kinds=frozenset(_strings(row["kinds"], f"{rw}.kinds")),
                    uses=frozenset(_strings(row["uses"], f"{rw}.uses")),
                    base=_decimal(row["base"], f"{rw}.base"),
                    rate=_decimal(row.get("rate", 0), f"{rw}.rate"),
                )
            )
    return tuple(rows)


def _pure(raw: Any, where: str) -> PurePremiums:
    data = _keys(
        raw,
        where,
        required={
            "demo",
            "confirmed",
            "source",
            "damage",
            "third_party",
            "third_party_limit_factors",
            "driver",
            "passenger",
            "riders",
        },
    )
    factors = {
        _decimal(str(k), f"{where}.third_party_limit_factors.{k}"): _decimal(
            v, f"{where}.third_party_limit_factors.{k}"
        )
        for k, v in _mapping(data["third_party_limit_factors"], f"{where}.third_party_limit_factors").items()
    }
    riders: dict[str, RiderRate] = {}
    for code, item in _mapping(data["riders"], f"{where}.riders").items():
        rw = f"{where}.riders.{code}"
        rider = _keys(item, rw, required=(), optional={"rate", "factor", "by_option"})
        by_option = {
            _option_key(k, f"{rw}.by_option"): _decimal(v, f"{rw}.by_option.{k}")
            for k, v in _mapping(rider.get("by_option", {}), f"{rw}.by_option").items()
        }
        with _at(rw):
            riders[str(code)] = RiderRate(
                code=str(code),
                rate=_opt(rider, "rate", rw, _decimal),
                factor=_opt(rider, "factor", rw, _decimal),
                by_option=by_option,
            )
    return _built(
        where,
        lambda: PurePremiums(
            damage=_rows(data["damage"], f"{where}.damage"),
            third_party=_rows(data["third_party"], f"{where}.third_party"),
            third_party_limit_factors=factors,
            driver=_rows(data["driver"], f"{where}.driver"),
            passenger=_rows(data["passenger"], f"{where}.passenger"),
            riders=riders,
            source=_str(data["source"], f"{where}.source"),
            confirmed=_bool(data["confirmed"], f"{where}.confirmed"),
            demo=_bool(data["demo"], f"{where}.demo"),
        ),
    )


def _depreciation(raw: Any, where: str) -> DepreciationTable:
    data = _keys(raw, where, required={"source", "confirmed", "cap", "rows"})
    rows = []
    for i, item in enumerate(_list(data["rows"], f"{where}.rows")):
        rw = f"{where}.rows[{i}]"
        row = _keys(item, rw, required={"kinds", "monthly"})
        monthly = {
            str(use): None if rate is None else _decimal(rate, f"{rw}.monthly.{use}")
            for use, rate in _mapping(row["monthly"], f"{rw}.monthly").items()
        }
        with _at(rw):
            rows.append(
                DepreciationRow(kinds=frozenset(_strings(row["kinds"], f"{rw}.kinds")), monthly=monthly)
            )
    return _built(
        where,
        lambda: DepreciationTable(
            rows=tuple(rows),
            cap=_decimal(data["cap"], f"{where}.cap"),
            source=_str(data["source"], f"{where}.source"),
            confirmed=_bool(data["confirmed"], f"{where}.confirmed"),
        ),
    )


def _ncd(code: str, raw: Any, where: str) -> NcdScheme:
    data = _keys(
        raw,
        where,
        required={"name_zh", "source", "confirmed", "coefficients"},
        optional={"unconfirmed_levels"},
    )
    coefficients: dict[int, Decimal] = {}
    for level, value in _mapping(data["coefficients"], f"{where}.coefficients").items():
        try:
            number = int(str(level))
        except ValueError:
            raise _fail(f"{where}.coefficients", f"level {level!r} is not an integer") from None
        coefficients[number] = _decimal(value, f"{where}.coefficients.{level}")
    unconfirmed = frozenset(
        _int(v, f"{where}.unconfirmed_levels") for v in _list(data.get("unconfirmed_levels", []), where)
    )
    return _built(
        where,
        lambda: NcdScheme(
            code=code,
            name_zh=_str(data["name_zh"], f"{where}.name_zh"),
            coefficients=coefficients,
            unconfirmed_levels=unconfirmed,
            source=_str(data["source"], f"{where}.source"),
            confirmed=_bool(data["confirmed"], f"{where}.confirmed"),
        ),
    )


def _ranges(raw: Any, where: str) -> tuple[CoefficientRange, ...]:
    ranges = []
    for i, item in enumerate(_list(raw, where)):
        rw = f"{where}[{i}]"
        data = _keys(
            item,
            rw,
            required={"effective_from", "min", "max", "source", "confirmed"},
            optional={"effective_to"},
        )
        with _at(rw):
            ranges.append(
                CoefficientRange(
                    effective_from=_date(data["effective_from"], f"{rw}.effective_from"),
                    effective_to=_opt(data, "effective_to", rw, _date),
                    low=_decimal(data["min"], f"{rw}.min"),
                    high=_decimal(data["max"], f"{rw}.max"),
                    source=_str(data["source"], f"{rw}.source"),
                    confirmed=_bool(data["confirmed"], f"{rw}.confirmed"),
                )
            )
    return tuple(sorted(ranges, key=lambda r: r.effective_from))


def _region(code: str, raw: Any, where: str, known: Mapping[str, str]) -> RegionRates:
    if code != DEFAULT_REGION:
        code = _region_code(code, where, known)
    data = _keys(
        raw,
        where,
        required={
            "name_zh",
            "expense_loading",
            "ncd_scheme",
            "source",
            "confirmed",
            "pricing_coefficient",
            "traffic_coefficient",
        },
    )
    name = _str(data["name_zh"], f"{where}.name_zh")
    if code != DEFAULT_REGION and name != known[code]:
        raise _fail(f"{where}.name_zh", f"{name!r} differs from {known[code]!r} in {REGIONS_FILE}")
    return _built(
        where,
        lambda: RegionRates(
            code=code,
            name_zh=name,
            expense_loading=_decimal(data["expense_loading"], f"{where}.expense_loading"),
            ncd_scheme=_str(data["ncd_scheme"], f"{where}.ncd_scheme"),
            pricing_ranges=_ranges(data["pricing_coefficient"], f"{where}.pricing_coefficient"),
            traffic_ranges=_ranges(data["traffic_coefficient"], f"{where}.traffic_coefficient"),
            source=_str(data["source"], f"{where}.source"),
            confirmed=_bool(data["confirmed"], f"{where}.confirmed"),
        ),
    )


@functools.lru_cache(maxsize=16)
def _rates(path: Path, index: int, regions_path: Path) -> CommercialRates:
    version, data, where = _version(path, index)
    _keys(
        data,
        where,
        required={
            "effective_from",
            "source",
            "confirmed",
            "demo",
            "loading_cap",
            "pure_premiums",
            "depreciation",
            "ncd_schemes",
            "regions",
        },
        optional=_VERSION_KEYS,
    )
    known = _regions(regions_path)
    ncd = {
        str(c): _ncd(str(c), raw, f"{where}.ncd_schemes.{c}")
        for c, raw in _mapping(data["ncd_schemes"], f"{where}.ncd_schemes").items()
    }
    regions = {}
    for c, raw in _mapping(data["regions"], f"{where}.regions").items():
        region = _region(str(c), raw, f"{where}.regions.{c}", known)
        regions[region.code] = region
    pure = _pure(data["pure_premiums"], f"{where}.pure_premiums")
    depreciation = _depreciation(data["depreciation"], f"{where}.depreciation")
    demo = _bool(data["demo"], f"{where}.demo")
    if version.confirmed and not (
        depreciation.confirmed
        and all(s.confirmed for s in ncd.values())
        and all(
            r.confirmed and all(x.confirmed for x in (*r.pricing_ranges, *r.traffic_ranges))
            for r in regions.values()
        )
    ):
        raise _fail(where, "a version marked confirmed may not contain an unconfirmed table or figure")
    return _built(
        where,
        lambda: CommercialRates(
            version=version,
            loading_cap=_decimal(data["loading_cap"], f"{where}.loading_cap"),
            pure=pure,
            depreciation=depreciation,
            ncd_schemes=ncd,
            regions=regions,
            demo=demo,
        ),
    )


# --------------------------------------------------------------------- public API


def _dir(data_dir: Path | str | None) -> Path:
    return DATA_DIR if data_dir is None else Path(data_dir).resolve()


def _tables(directory: Path, cat_index: int, rates_index: int) -> CommercialTables:
    regions_path = directory / REGIONS_FILE
    return _built(
        f"{directory}: {COVERAGES_FILE} + {RATES_FILE}",
        lambda: CommercialTables(
            catalogue=_catalogue(directory / COVERAGES_FILE, cat_index),
            rates=_rates(directory / RATES_FILE, rates_index, regions_path),
            region_names=_regions(regions_path),
        ),
    )


@functools.lru_cache(maxsize=256)
def _commercial(directory: Path, on: date) -> CommercialTables:
    return _combined(directory, _select(directory / COVERAGES_FILE, on), _select(directory / RATES_FILE, on))


@functools.lru_cache(maxsize=16)
def _combined(directory: Path, cat_index: int, rates_index: int) -> CommercialTables:
    return _tables(directory, cat_index, rates_index)


def load_commercial_tables(on: date, *, data_dir: Path | str | None = None) -> CommercialTables:
    """The 商业车险 catalogue and rates effective on a date (else ApplicationError rate_table_missing)."""
    return _commercial(_dir(data_dir), on)


def commercial_unconfirmed(on: date, *, data_dir: Path | str | None = None) -> tuple[str, ...]:
    """Every unconfirmed or demo table, entry and figure effective on a date; empty = all confirmed.

    A quote carries the narrower list of what it used (CommercialQuote.unconfirmed); production should
    refuse to sell while either is non-empty.
    """
    return load_commercial_tables(on, data_dir=data_dir).unconfirmed()


def validate_commercial(*, data_dir: Path | str | None = None) -> list[str]:
    """Build every version of both files and each pairing in force together: for CI and after editing."""
    directory = _dir(data_dir)
    labels: list[str] = []
    cat_path, rates_path = directory / COVERAGES_FILE, directory / RATES_FILE
    cat_versions = _read_versioned(cat_path).versions
    rates_versions = _read_versioned(rates_path).versions
    for i, (version, _) in enumerate(cat_versions):
        _catalogue(cat_path, i)
        labels.append(version.label)
    for j, (version, _) in enumerate(rates_versions):
        _rates(rates_path, j, directory / REGIONS_FILE)
        labels.append(version.label)
    for i, (cv, _) in enumerate(cat_versions):
        for j, (rv, _) in enumerate(rates_versions):
            overlap = (cv.effective_to is None or rv.effective_from <= cv.effective_to) and (
                rv.effective_to is None or cv.effective_from <= rv.effective_to
            )
            if overlap:
                _combined(directory, i, j)
    return labels


def clear_commercial_caches() -> None:
    """Forget every parsed commercial table (tests, or a long-running process after a data deploy)."""
    for cached in (_read_versioned, _regions, _catalogue, _rates, _commercial, _combined):
        cached.cache_clear()
