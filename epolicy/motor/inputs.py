"""What other systems and staff submit to open an e-application: plain frozen dataclasses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class PersonInput:
    name: str
    id_number: str
    phone: str
    email: str = ""
    address: str = ""
    id_type: str = "resident_id"


@dataclass(frozen=True)
class VehicleInput:
    plate: str
    vin: str
    engine_number: str
    brand_model: str
    seats: int
    displacement_l: Decimal
    registered_on: dt.date
    use_category: str = "family_private"
    energy_type: str = "fuel"
    # Trucks: 核定载质量 (t) prices 交强险, 整备质量 (t) the 车船税; motorcycles: displacement in cc.
    tonnage: Decimal | None = None
    curb_weight_t: Decimal | None = None
    displacement_cc: int | None = None
    is_trailer: bool = False
    new_car_price: Decimal | None = None  # 新车购置价: needed for commercial own-damage cover
    # A new car without a plate yet: `plate` is empty and `registered_on` is the invoice date.
    unregistered: bool = False
    # New-energy vehicles (the NEV form): the traction battery's capacity, and where the owner's own
    # charging pile is (needed when its riders are bought).
    battery_capacity_kwh: Decimal | None = None
    charger_address: str = ""


@dataclass(frozen=True)
class CoverageChoice:
    """A coverage or rider of a commercial product (docs/commercial-cover.md: the fields each takes)."""

    code: str
    parent: str | None = None
    amount: Decimal | None = None
    seats: int | None = None
    rate: Decimal | None = None
    days: int | None = None
    daily_amount: Decimal | None = None
    services: Mapping[str, int] | None = None


@dataclass(frozen=True)
class SingleTripChoice:
    """单程提车: a new car driven once on a temporary plate, for `days` days along `route`."""

    days: int
    route: str


@dataclass(frozen=True)
class ProductChoice:
    code: str
    coverages: tuple[CoverageChoice, ...] = ()


@dataclass(frozen=True)
class ApplicationInput:
    applicant: PersonInput
    vehicle: VehicleInput
    region_code: str
    period_start: dt.date
    insured: PersonInput | None = None
    owner: PersonInput | None = None
    floating_code: str | None = None
    special_agreements: str = ""
    dispute_resolution: str = "litigation"
    arbitration_body: str = ""
    business_source: str = "直销"
    products: tuple[ProductChoice, ...] = field(default_factory=lambda: (ProductChoice("ctpl"),))
    pricing_coefficient: Decimal | None = None  # 自主定价系数 (commercial): 1 when not given
    traffic_coefficient: Decimal | None = None  # 交通违法系数, where the region uses one
    single_trip: SingleTripChoice | None = None
