"""What other systems and staff submit to open an e-application: plain frozen dataclasses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class PersonInput:
    name: str
    id_number: str
    phone: str
    email: str = ""
    address: str = ""


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
