"""The motor product catalogue (products/data/motor_products.yaml): which products exist, what each one
prints and numbers, which documents its applicant reads, and which of the five application-form versions
(motor standard §4.2.3 b) an application uses.

Read strictly (an unknown key is an error) and once per process: the file ships with the code.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

import yaml

from epolicy.common.errors import ApplicationError

PRODUCT_KEYS = {
    "name_zh",
    "short_name_zh",
    "policy_title_zh",
    "policy_prefix",
    "kind",
    "term",
    "collects_vehicle_tax",
    "documents",
    "nev_documents",
    "confirmed",
}
NEV_ENERGY = frozenset({"bev", "phev", "fcev"})


@dataclass(frozen=True)
class MotorProduct:
    code: str
    name_zh: str
    short_name_zh: str
    policy_title_zh: str
    policy_prefix: str
    kind: str  # "ctpl" or "commercial"
    term: str
    collects_vehicle_tax: bool
    documents: tuple[str, ...]
    nev_documents: tuple[str, ...]
    confirmed: bool

    def documents_for(self, energy_type: str) -> tuple[str, ...]:
        if energy_type in NEV_ENERGY and self.nev_documents:
            return self.nev_documents
        return self.documents


@dataclass(frozen=True)
class FormVersion:
    code: str
    title_zh: str
    vehicle_groups: tuple[str, ...] = ()
    energy: tuple[str, ...] = ()
    single_trip: bool = False

    def applies(self, *, group: str, energy_type: str, single_trip: bool) -> bool:
        if self.single_trip and not single_trip:
            return False
        if self.vehicle_groups and group not in self.vehicle_groups:
            return False
        return not (self.energy and energy_type not in self.energy)


@dataclass(frozen=True)
class SingleTrip:
    """单程提车: the longest term, and how its short term is priced (data, flagged unless confirmed)."""

    max_days: int
    ctpl_short_rates: Mapping[int, Decimal]  # months begun -> share of the annual 交强险 premium
    confirmed: bool
    source: str

    def months(self, days: int) -> int:
        return (days + 29) // 30

    def ctpl_rate(self, days: int) -> Decimal:
        return self.ctpl_short_rates[self.months(days)]

    def commercial_factor(self, days: int) -> Decimal:
        return Decimal(days) / Decimal(365)


@dataclass(frozen=True)
class MotorCatalogue:
    products: Mapping[str, MotorProduct]
    common_documents: tuple[str, ...]
    vehicle_groups: Mapping[str, str]  # use category -> group
    form_versions: tuple[FormVersion, ...]
    commercial_classes: Mapping[str, tuple[str, str]]  # use category -> (kind, use) of the rate tables
    single_trip: SingleTrip

    def commercial_class(self, use_category: str, *, seats: int, is_trailer: bool) -> tuple[str, str]:
        """The (kind, use) the commercial rate tables know this vehicle by."""
        kind, use = self.commercial_classes[use_category]
        if kind == "passenger":
            kind = "passenger_small" if seats <= 9 else "passenger_large"
        elif kind == "truck" and is_trailer:
            kind = "truck_with_trailer"
        return kind, use

    def product(self, code: str, *, field: str = "products") -> MotorProduct:
        try:
            return self.products[code]
        except KeyError:
            known = "、".join(f"{p.code}（{p.short_name_zh}）" for p in self.products.values())
            raise ApplicationError(
                "unknown_product", f"没有险种“{code}”。可投保的险种：{known}。", {"field": field}
            ) from None

    def group_of(self, use_category: str) -> str:
        try:
            return self.vehicle_groups[use_category]
        except KeyError:
            raise ApplicationError(
                "validation_error",
                f"使用性质“{use_category}”不正确。",
                {"field": "vehicle.use_category"},
            ) from None

    def form_version(self, *, use_category: str, energy_type: str, single_trip: bool = False) -> FormVersion:
        group = self.group_of(use_category)
        for version in self.form_versions:
            if version.applies(group=group, energy_type=energy_type, single_trip=single_trip):
                return version
        raise AssertionError("the last form version applies to every vehicle")  # checked at load

    def form_version_by_code(self, code: str) -> FormVersion:
        return next((v for v in self.form_versions if v.code == code), self.form_versions[-1])

    def documents(self, products: Sequence[str], energy_type: str) -> tuple[str, ...]:
        """Every document the applicant reads before signing, in display order, without repeats."""
        codes: list[str] = []
        for code in products:
            codes.extend(self.products[code].documents_for(energy_type))
        codes.extend(self.common_documents)
        return tuple(dict.fromkeys(codes))


def _strict(mapping: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(mapping, dict):
        raise ValueError(f"{where}: expected a mapping")
    unknown = set(mapping) - allowed
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    return mapping


def parse_catalogue(raw: Mapping[str, Any]) -> MotorCatalogue:
    top = _strict(
        dict(raw),
        {
            "products",
            "common_documents",
            "vehicle_groups",
            "form_versions",
            "commercial_classes",
            "single_trip",
        },
        "catalogue",
    )
    products: dict[str, MotorProduct] = {}
    for code, entry in top["products"].items():
        entry = _strict(entry, PRODUCT_KEYS, f"product {code}")
        if entry["kind"] not in ("ctpl", "commercial"):
            raise ValueError(f"product {code}: unknown kind {entry['kind']!r}")
        products[code] = MotorProduct(
            code=code,
            name_zh=entry["name_zh"],
            short_name_zh=entry["short_name_zh"],
            policy_title_zh=entry["policy_title_zh"],
            policy_prefix=entry["policy_prefix"],
            kind=entry["kind"],
            term=entry["term"],
            collects_vehicle_tax=bool(entry["collects_vehicle_tax"]),
            documents=tuple(entry["documents"]),
            nev_documents=tuple(entry.get("nev_documents") or ()),
            confirmed=bool(entry["confirmed"]),
        )
    prefixes = [p.policy_prefix for p in products.values()]
    if len(set(prefixes)) != len(prefixes):
        raise ValueError("two products share a policy number prefix")
    groups: dict[str, str] = {}
    for group, categories in top["vehicle_groups"].items():
        for category in categories:
            if category in groups:
                raise ValueError(f"use category {category} is in two vehicle groups")
            groups[category] = group
    versions = []
    for entry in top["form_versions"]:
        entry = _strict(entry, {"code", "title_zh", "when"}, "form version")
        when = _strict(entry.get("when") or {}, {"vehicle_groups", "energy", "trip"}, f"{entry['code']}.when")
        unknown_groups = set(when.get("vehicle_groups", ())) - set(top["vehicle_groups"])
        if unknown_groups:
            raise ValueError(f"form version {entry['code']}: unknown vehicle groups {sorted(unknown_groups)}")
        versions.append(
            FormVersion(
                code=entry["code"],
                title_zh=entry["title_zh"],
                vehicle_groups=tuple(when.get("vehicle_groups", ())),
                energy=tuple(when.get("energy", ())),
                single_trip=when.get("trip") == "single",
            )
        )
    if not versions or versions[-1].vehicle_groups or versions[-1].energy or versions[-1].single_trip:
        raise ValueError("the last form version must apply to every vehicle (no conditions)")
    classes: dict[str, tuple[str, str]] = {}
    for category, entry in top["commercial_classes"].items():
        entry = _strict(entry, {"kind", "use"}, f"commercial class {category}")
        classes[category] = (entry["kind"], entry["use"])
    if set(classes) != set(groups):
        raise ValueError("commercial_classes must name exactly the use categories of vehicle_groups")
    trip = _strict(
        top["single_trip"],
        {"max_days", "confirmed", "source", "ctpl_short_rates", "commercial"},
        "single_trip",
    )
    if trip["commercial"] != "pro_rata_days":
        raise ValueError("single_trip.commercial: only pro_rata_days is known")
    rates = {int(k): Decimal(str(v)) for k, v in trip["ctpl_short_rates"].items()}
    if any(isinstance(v, float) for v in trip["ctpl_short_rates"].values()):
        raise ValueError("single_trip.ctpl_short_rates: write rates as quoted strings, not YAML floats")
    if not set(range(1, (int(trip["max_days"]) + 29) // 30 + 1)) <= set(rates):
        raise ValueError("single_trip.ctpl_short_rates must give every month the longest term begins")
    single_trip = SingleTrip(
        max_days=int(trip["max_days"]),
        ctpl_short_rates=rates,
        confirmed=bool(trip["confirmed"]),
        source=str(trip["source"]),
    )
    return MotorCatalogue(
        single_trip=single_trip,
        commercial_classes=classes,
        products=products,
        common_documents=tuple(top["common_documents"]),
        vehicle_groups=groups,
        form_versions=tuple(versions),
    )


@functools.cache
def motor_catalogue() -> MotorCatalogue:
    text = resources.files("epolicy.products").joinpath("data/motor_products.yaml").read_text("utf-8")
    return parse_catalogue(yaml.safe_load(text))
