"""The motor e-application (电子投保单) and the evidence of its reading, signing and verification.

Plate, VIN and engine number are personal data (they lead to the owner): encrypted at rest, with a
keyed blind index of the plate and of the VIN for look-ups by equality.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from epolicy.common.fields import EncryptedJSONField, EncryptedTextField
from epolicy.common.vehicle_keys import (  # noqa: F401  (re-exported: plate_key, vin_key)
    plate_index_of,
    plate_key,
    vin_index_of,
    vin_key,
    with_derived,
)


class Application(models.Model):
    class Status(models.TextChoices):
        SUBMITTED = "submitted", "已提交待审批"
        APPROVED = "approved", "已审批待签名"
        SIGNED = "signed", "已签名待缴费"
        PAID = "paid", "已缴费待出单"
        ISSUED = "issued", "已出单"
        WITHDRAWN = "withdrawn", "已撤回"

    number = models.CharField(max_length=32, unique=True)
    # The products bought together (codes of products/data/motor_products.yaml), in the catalogue's
    # order; `product` is kept as their "+"-joined summary for lists and filters.
    product = models.CharField(max_length=40, default="ctpl")
    products = models.JSONField(default=list)
    form_version = models.CharField(max_length=24, default="standard")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTED)

    applicant = models.ForeignKey("parties.Customer", on_delete=models.PROTECT, related_name="+")
    insured = models.ForeignKey("parties.Customer", on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey("parties.Customer", on_delete=models.PROTECT, related_name="+")

    plate = EncryptedTextField(context="motor.application.plate")
    plate_index = models.CharField(max_length=64, db_index=True)
    plate_kind = models.CharField(max_length=24)
    vin = EncryptedTextField(context="motor.application.vin")
    vin_index = models.CharField(max_length=64, db_index=True)
    engine_number = EncryptedTextField(context="motor.application.engine_number")
    brand_model = models.CharField(max_length=100)
    use_category = models.CharField(max_length=32, default="family_private")
    seats = models.PositiveSmallIntegerField()
    energy_type = models.CharField(max_length=16, default="fuel")
    displacement_l = models.DecimalField(max_digits=4, decimal_places=2)
    # What some vehicle classes are priced and taxed by (trucks and special vehicles: tonnage and curb
    # weight; motorcycles: cc); null where the class does not use it.
    tonnage = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    curb_weight_t = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    displacement_cc = models.PositiveIntegerField(null=True, blank=True)
    is_trailer = models.BooleanField(default=False)
    # 新车购置价 (commercial own-damage cover is priced on its depreciated value).
    new_car_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # A new car not yet registered: no plate yet (added later by endorsement); `registered_on` holds the
    # invoice date then.
    unregistered = models.BooleanField(default=False)
    # 单程提车: cover for this many days along this route (the form version "pickup"); null otherwise.
    # New-energy vehicles: traction battery capacity, and the address of the owner's own charging pile.
    battery_capacity_kwh = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    charger_address = EncryptedTextField(context="motor.application.charger_address", blank=True, default="")
    trip_days = models.PositiveSmallIntegerField(null=True, blank=True)
    trip_route = models.CharField(max_length=200, blank=True, default="")
    registered_on = models.DateField()
    region_code = models.CharField(max_length=6)
    floating_code = models.CharField(max_length=2, blank=True, default="")

    period_start = models.DateField()
    period_end = models.DateField()

    base_premium = models.DecimalField(max_digits=12, decimal_places=2)
    floating_rate = models.DecimalField(max_digits=5, decimal_places=4)
    premium = models.DecimalField(max_digits=12, decimal_places=2)
    vehicle_tax = models.DecimalField(max_digits=12, decimal_places=2)
    total_due = models.DecimalField(max_digits=12, decimal_places=2)
    quote = models.JSONField(default=dict)

    special_agreements = models.TextField(blank=True, default="")
    dispute_resolution = models.CharField(max_length=16, default="litigation")
    arbitration_body = models.CharField(max_length=100, blank=True, default="")
    business_source = models.CharField(max_length=100, default="直销")

    access_token = EncryptedTextField(context="motor.application.access_token", blank=True, default="")
    access_token_index = models.CharField(max_length=64, blank=True, default="", db_index=True)

    submitted_by = models.CharField(max_length=100)
    # The insurer system that submitted it through the API (None: staff or the demo); such a client
    # sees only its own applications unless its scopes say otherwise.
    created_by_client = models.ForeignKey(
        "common.ApiClient", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.CharField(max_length=100, blank=True, default="")
    signed_at = models.DateTimeField(null=True, blank=True)
    otp_verified_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    form_document = models.ForeignKey(
        "archive.ArchivedObject", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    form_signature_box = models.JSONField(default=dict, blank=True)
    # Motor standard 4.2.4 c: a withdrawn application regenerated as this one (its signature replaces
    # the earlier one in the archive, which keeps the earlier copy retrievable).
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )
    signed_document = models.ForeignKey(
        "archive.ArchivedObject", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        # The console's list (docs/performance.md, "Scale"): newest first within a state, and by
        # submission or start date, without reading the whole table.
        indexes = [
            models.Index(fields=["status", "id"], name="application_status_id"),
            models.Index(fields=["created_at"], name="application_created_at"),
            models.Index(fields=["period_start"], name="application_period_start"),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The blind indexes are derived columns: kept beside the values they index, as Customer's are.
        self.plate_index = plate_index_of(self.plate)
        self.vin_index = vin_index_of(self.vin)
        if "update_fields" in kwargs:
            kwargs["update_fields"] = with_derived(
                kwargs["update_fields"], {"plate": "plate_index", "vin": "vin_index"}
            )
        super().save(*args, **kwargs)

    @property
    def policy(self) -> Any:
        """The first policy issued for it (the only one when it bought one product); None before issuance."""
        return min(self.policies.all(), key=lambda p: p.pk, default=None) if self.pk else None


class DocumentRead(models.Model):
    """One document of the bundle served to the applicant (motor standard 4.2.4 b)."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="reads")
    code = models.CharField(max_length=40)
    title = models.CharField(max_length=100)
    version = models.CharField(max_length=20)
    sha256 = models.CharField(max_length=64)
    first_served_at = models.DateTimeField()
    last_served_at = models.DateTimeField()
    times_served = models.PositiveIntegerField(default=1)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "code"], name="one_read_per_document")]


class EvidenceRecord(models.Model):
    """A fact proving the applicant's confirmation, archived as canonical JSON (sign, OTP, payment).

    `data` is the database copy, with personal data masked (the payer's name); the archived file
    (`archived`, whose SHA-256 is `sha256`) is the evidence in full.
    """

    class Kind(models.TextChoices):
        SIGNATURE = "signature", "签名"
        OTP = "otp", "短信验证"
        PAYMENT = "payment", "实名缴费"

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="evidence")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    data = models.JSONField()
    sha256 = models.CharField(max_length=64)
    archived = models.ForeignKey("archive.ArchivedObject", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()


class Endorsement(models.Model):
    """A change to an issued motor policy (批改, motor standard 4.3.5): asked for, quoted, signed by the
    applicant, checked (SMS code, and a real-name check where the change moves money or changes who is
    covered), then applied as a sealed e-endorsement. The policy is never edited in place: its state is
    the original plus its applied endorsements (epolicy.motor.endorsements.state)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "待签名"
        SIGNED = "signed", "待验证"
        APPLIED = "applied", "已生效"
        WITHDRAWN = "withdrawn", "已撤回"

    number = models.CharField(max_length=32, unique=True)  # 批单号
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="endorsements")
    kind = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    # What changes: the new values (and the cancellation ground), and what they replace; personal data.
    changes = EncryptedJSONField(context="motor.endorsement.changes")
    before = EncryptedJSONField(context="motor.endorsement.before")
    quoted_on = models.DateField()  # the business day of the quote: it is valid that day only
    effective_on = models.DateField()
    # Money: what goes back to the payer (cancellation); the basis is printed on the e-endorsement.
    refund = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # An additional premium (a coverage added mid-term): paid through the gateway before it applies.
    premium_due = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    paid_at = models.DateTimeField(null=True, blank=True)
    refund_basis = models.TextField(blank=True, default="")
    requested_by = models.CharField(max_length=150)
    created_at = models.DateTimeField()
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_request = models.ForeignKey(
        "archive.ArchivedObject", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    otp_verified_at = models.DateTimeField(null=True, blank=True)
    realname_verified_at = models.DateTimeField(null=True, blank=True)
    realname_reference = models.CharField(max_length=64, blank=True, default="")
    consent_verified_at = models.DateTimeField(null=True, blank=True)  # the new owner's (过户)
    applied_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(null=True, blank=True)  # the policy version it made
    # Random, printed in the e-endorsement's QR code only (numbers are sequential and do not suffice).
    verify_code = models.CharField(max_length=32, default="")
    document = models.ForeignKey(
        "archive.ArchivedObject", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One change at a time: a second request waits until the first is applied or withdrawn.
            models.UniqueConstraint(
                fields=["policy"],
                condition=models.Q(status__in=["requested", "signed"]),
                name="one_open_endorsement_per_policy",
            )
        ]

    def __str__(self) -> str:
        return self.number
