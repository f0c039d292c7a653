from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Field, Schema
from pydantic import ConfigDict

from .inputs import (
    ApplicationInput,
    CoverageChoice,
    PersonInput,
    ProductChoice,
    SingleTripChoice,
    VehicleInput,
)

# Every input schema refuses keys it does not know (a coded 422): a misspelt or unsupported field is
# never silently dropped (a request for {"product": "commercial"} must not become a 交强险-only one).
STRICT = ConfigDict(extra="forbid")


class PersonIn(Schema):
    model_config = STRICT
    id_type: str = Field(
        "resident_id",
        max_length=20,
        description="resident_id / uscc (enterprise) / passport / hk_macao_permit / taiwan_permit",
    )
    name: str = Field(max_length=100)
    id_number: str = Field(max_length=24)
    phone: str = Field(max_length=20)
    email: str = Field("", max_length=200)
    address: str = Field("", max_length=200)

    def to_input(self) -> PersonInput:
        return PersonInput(**self.dict())


class VehicleIn(Schema):
    model_config = STRICT
    plate: str = Field("", max_length=12, description="empty for a new car not yet registered")
    vin: str = Field(max_length=20)
    engine_number: str = Field(max_length=32)
    brand_model: str = Field(max_length=100)
    seats: int = Field(ge=1, le=60)
    displacement_l: Decimal = Field(Decimal(0), ge=0, le=20, decimal_places=2)
    registered_on: dt.date = Field(description="初次登记日期; the invoice date of an unregistered new car")
    use_category: str = Field("family_private", max_length=32)
    energy_type: str = Field("fuel", max_length=16)
    tonnage: Decimal | None = Field(None, gt=0, le=200, decimal_places=2, description="核定载质量 (t)")
    curb_weight_t: Decimal | None = Field(None, gt=0, le=200, decimal_places=2, description="整备质量 (t)")
    displacement_cc: int | None = Field(None, ge=1, le=5000, description="motorcycles")
    is_trailer: bool = False
    new_car_price: Decimal | None = Field(None, gt=0, le=100_000_000, decimal_places=2)
    unregistered: bool = False
    battery_capacity_kwh: Decimal | None = Field(None, gt=0, le=1000, decimal_places=1, description="NEV")
    charger_address: str = Field("", max_length=200, description="自用充电桩地址 (its riders need it)")

    def to_input(self) -> VehicleInput:
        return VehicleInput(**self.dict())


class CoverageIn(Schema):
    model_config = STRICT
    code: str = Field(max_length=60)
    parent: str | None = Field(None, max_length=60)
    amount: Decimal | None = Field(None, ge=0, le=100_000_000, decimal_places=2)
    seats: int | None = Field(None, ge=1, le=60)
    rate: Decimal | None = Field(None, ge=0, le=1, decimal_places=4)
    days: int | None = Field(None, ge=1, le=365)
    daily_amount: Decimal | None = Field(None, ge=0, le=100_000, decimal_places=2)
    services: dict[str, int] | None = None

    def to_input(self) -> CoverageChoice:
        return CoverageChoice(**self.dict())


class ProductIn(Schema):
    model_config = STRICT
    code: str = Field(max_length=40, description="ctpl (交强险) or commercial (商业险)")
    coverages: list[CoverageIn] = Field(default_factory=list, max_length=40)

    def to_input(self) -> ProductChoice:
        return ProductChoice(code=self.code, coverages=tuple(c.to_input() for c in self.coverages))


class SingleTripIn(Schema):
    model_config = STRICT
    days: int = Field(ge=1, le=366, description="单程提车: days of cover (the catalogue sets the longest)")
    route: str = Field(max_length=200, description="起讫地点及行驶路线")

    def to_input(self) -> SingleTripChoice:
        return SingleTripChoice(days=self.days, route=self.route)


def _products(items: list[ProductIn] | None) -> tuple[ProductChoice, ...]:
    """Not given: 交强险 alone (what the API sold before products existed); given empty: nothing."""
    return (ProductChoice("ctpl"),) if items is None else tuple(p.to_input() for p in items)


class ApplicationIn(Schema):
    model_config = STRICT
    applicant: PersonIn
    insured: PersonIn | None = None
    owner: PersonIn | None = None
    vehicle: VehicleIn
    products: list[ProductIn] | None = Field(None, max_length=4, description="default: 交强险 alone")
    region_code: str = Field(min_length=6, max_length=6)
    floating_code: str | None = Field(None, max_length=2)
    pricing_coefficient: Decimal | None = Field(None, gt=0, le=10, decimal_places=4)
    traffic_coefficient: Decimal | None = Field(None, gt=0, le=10, decimal_places=4)
    single_trip: SingleTripIn | None = Field(None, description="单程提车 (a new car, unregistered)")
    period_start: dt.date
    special_agreements: str = Field("", max_length=4000)
    dispute_resolution: str = Field("litigation", max_length=16)
    arbitration_body: str = Field("", max_length=100)
    business_source: str = Field("直销", max_length=100)

    def to_input(self) -> ApplicationInput:
        data = self.dict(exclude={"applicant", "insured", "owner", "vehicle", "products", "single_trip"})
        return ApplicationInput(
            applicant=self.applicant.to_input(),
            insured=self.insured.to_input() if self.insured else None,
            owner=self.owner.to_input() if self.owner else None,
            vehicle=self.vehicle.to_input(),
            products=_products(self.products),
            single_trip=self.single_trip.to_input() if self.single_trip else None,
            **data,
        )


class QuoteIn(Schema):
    model_config = STRICT
    vehicle: VehicleIn
    products: list[ProductIn] | None = Field(None, max_length=4, description="default: 交强险 alone")
    region_code: str = Field(min_length=6, max_length=6)
    floating_code: str | None = Field(None, max_length=2)
    pricing_coefficient: Decimal | None = Field(None, gt=0, le=10, decimal_places=4)
    traffic_coefficient: Decimal | None = Field(None, gt=0, le=10, decimal_places=4)
    single_trip: SingleTripIn | None = None
    period_start: dt.date

    def product_choices(self) -> tuple[ProductChoice, ...]:
        return _products(self.products)


class QuoteOut(Schema):
    products: list[str]
    base_premium: str
    floating_code: str | None
    floating_rate: str
    ctpl_premium: str | None
    commercial: dict | None
    premium: str
    vehicle_tax: str
    vehicle_tax_reason: str | None
    total_due: str
    period_start: dt.date
    period_end: dt.date
    limits: dict
    tables: list[str]
    unconfirmed: list[str]
    single_trip_days: int | None = None


class ApplicationOut(Schema):
    number: str
    status: str
    status_text: str
    premium: str
    vehicle_tax: str
    total_due: str
    plate: str
    period_start: dt.date
    period_end: dt.date
    policy_number: str | None = None
    products: list[str] = []
    form_version: str = "standard"
    form_title: str = ""
    policies: list[dict] = []


class ApprovalOut(ApplicationOut):
    customer_url: str
    qr_png_url: str


class DocumentOut(Schema):
    code: str
    title: str
    read: bool


class CustomerApplicationOut(ApplicationOut):
    applicant_name: str
    documents: list[DocumentOut]
    next_step: str


class DocumentTextOut(Schema):
    code: str
    title: str
    version: str
    sha256: str
    html: str


class SignatureIn(Schema):
    signature: str = Field(
        description="PNG of the handwritten signature, base64 or data URL", max_length=800_000
    )


class OtpSentOut(Schema):
    phone_masked: str
    expires_in_seconds: int


class OtpIn(Schema):
    code: str = Field(max_length=12)


class PaymentStartOut(Schema):
    order_no: str
    pay_url: str


class PaymentStatusOut(Schema):
    order_no: str
    status: str
    status_text: str
    message: str
    policy_number: str | None
    policy_numbers: list[str] = Field(default_factory=list, description="every policy, one per product")
