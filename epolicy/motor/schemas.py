from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Field, Schema

from .inputs import ApplicationInput, PersonInput, VehicleInput


class PersonIn(Schema):
    name: str = Field(max_length=30)
    id_number: str = Field(max_length=24)
    phone: str = Field(max_length=20)
    email: str = Field("", max_length=200)
    address: str = Field("", max_length=200)

    def to_input(self) -> PersonInput:
        return PersonInput(**self.dict())


class VehicleIn(Schema):
    plate: str = Field(max_length=12)
    vin: str = Field(max_length=20)
    engine_number: str = Field(max_length=32)
    brand_model: str = Field(max_length=100)
    seats: int = Field(ge=1, le=60)
    displacement_l: Decimal = Field(ge=0, le=20, decimal_places=2)
    registered_on: dt.date
    use_category: str = Field("family_private", max_length=32)
    energy_type: str = Field("fuel", max_length=16)

    def to_input(self) -> VehicleInput:
        return VehicleInput(**self.dict())


class ApplicationIn(Schema):
    applicant: PersonIn
    insured: PersonIn | None = None
    owner: PersonIn | None = None
    vehicle: VehicleIn
    region_code: str = Field(min_length=6, max_length=6)
    floating_code: str | None = Field(None, max_length=2)
    period_start: dt.date
    special_agreements: str = Field("", max_length=4000)
    dispute_resolution: str = Field("litigation", max_length=16)
    arbitration_body: str = Field("", max_length=100)
    business_source: str = Field("直销", max_length=100)

    def to_input(self) -> ApplicationInput:
        data = self.dict(exclude={"applicant", "insured", "owner", "vehicle"})
        return ApplicationInput(
            applicant=self.applicant.to_input(),
            insured=self.insured.to_input() if self.insured else None,
            owner=self.owner.to_input() if self.owner else None,
            vehicle=self.vehicle.to_input(),
            **data,
        )


class QuoteIn(Schema):
    vehicle: VehicleIn
    region_code: str = Field(min_length=6, max_length=6)
    floating_code: str | None = Field(None, max_length=2)
    period_start: dt.date


class QuoteOut(Schema):
    base_premium: str
    floating_code: str | None
    floating_rate: str
    premium: str
    vehicle_tax: str
    vehicle_tax_reason: str | None
    total_due: str
    period_start: dt.date
    period_end: dt.date
    limits: dict
    tables: list[str]


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
