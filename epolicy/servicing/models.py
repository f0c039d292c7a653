"""Life policies as the servicing engine keeps them: versions of the engine's PolicyState, the changes
(保全申请) that made them, and the money each change moved.

A policy is never edited in place: every applied change adds a LifePolicyVersion holding the whole
`PolicyState.to_json()`, linked to the PolicyChange (and through it to its e-endorsement) that made it.
`LifePolicy.status` and `current_version` are mirrors kept for listing and locking; the state JSON of
the current version is the truth.

Personal data is encrypted at rest: the applicant's name, and the JSON documents that carry names,
addresses and accounts (a version's state, a change's params and quote). Nothing is looked up, filtered
or sorted by them.
"""

from __future__ import annotations

from django.db import models

from epolicy.common.fields import EncryptedJSONField, EncryptedTextField
from epolicy.rules.life.vocab import STATUS_NAMES


class LifePolicy(models.Model):
    """One life policy; its row is the lock every change of the policy takes first."""

    number = models.CharField(max_length=32, unique=True)
    product_code = models.CharField(max_length=32)
    applicant_name = EncryptedTextField(context="servicing.lifepolicy.applicant_name")
    # Keyed blind index of the applicant's ID number (context "id_number"); the clear number is not kept.
    applicant_id_index = models.CharField(max_length=64, blank=True, default="", db_index=True)
    # Where the applicant is reached (life guide §6.2.2.3: codes go to the phone left with the insurer;
    # §6.8: notifications by SMS and e-mail). Encrypted, the phone with a blind index (context "phone").
    applicant_phone = EncryptedTextField(
        context="servicing.lifepolicy.applicant_phone", blank=True, default=""
    )
    applicant_phone_index = models.CharField(max_length=64, blank=True, default="", db_index=True)
    applicant_email = EncryptedTextField(
        context="servicing.lifepolicy.applicant_email", blank=True, default=""
    )
    status = models.CharField(max_length=32, choices=list(STATUS_NAMES.items()))
    current_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["number"]
        verbose_name = "寿险保单"
        verbose_name_plural = "寿险保单"

    def __str__(self) -> str:
        return self.number


class LifePolicyVersion(models.Model):
    """The policy's state at one version: what the change of that version left (version 1: issue)."""

    policy = models.ForeignKey(LifePolicy, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    state = EncryptedJSONField(context="servicing.lifepolicyversion.state")
    change = models.ForeignKey(
        "servicing.PolicyChange", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["policy_id", "version"]
        verbose_name = "寿险保单版本"
        verbose_name_plural = "寿险保单版本"
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="servicing_one_row_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} v{self.version}"


class PolicyChange(models.Model):
    """One change request (保全申请) that was applied, or awaits, or failed its manual review.

    Refused requests are never recorded (nothing is written for them). `params` are the request's
    parameters with bank card numbers masked; `request_hash` is a keyed hash of the full request
    (item + params), which tells a retry from a different request under the same idempotency key.
    """

    class Status(models.TextChoices):
        APPLIED = "applied", "已生效"
        PENDING_REVIEW = "pending_review", "待人工审核"
        # Approved, but the amounts worked out on the day of approval differ from those the customer
        # confirmed: nothing moves until the customer confirms the new ones (life guide §6.7).
        AWAITING_CONFIRMATION = "awaiting_confirmation", "审核通过，待客户确认新金额"
        REJECTED = "rejected", "审核未通过"
        FAILED = "failed", "审核通过但未能生效"

    class Channel(models.TextChoices):
        API = "api", "接口（保险公司系统）"
        CONSOLE = "console", "运营后台"
        SELF_SERVICE = "self_service", "客户自助（手机）"

    change_number = models.CharField(max_length=32, unique=True)
    policy = models.ForeignKey(LifePolicy, on_delete=models.PROTECT, related_name="changes")
    item = models.CharField(max_length=48)
    params = EncryptedJSONField(context="servicing.policychange.params", default=dict)
    request_hash = models.CharField(max_length=64)
    quote = EncryptedJSONField(context="servicing.policychange.quote", default=dict)
    status = models.CharField(max_length=24, choices=Status.choices)
    idempotency_key = models.CharField(max_length=128)
    based_on_version = models.PositiveIntegerField()
    result_version = models.ForeignKey(
        LifePolicyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    effective_date = models.DateField()
    endorsement_number = models.CharField(max_length=32, blank=True, default="")
    endorsement = models.ForeignKey(
        "archive.ArchivedObject", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    amount_to_pay = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    amount_to_receive = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    manual_review_reason = models.CharField(max_length=500, blank=True, default="")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.API)
    # How the requester was identified and what they confirmed (life guide §6.2, §6.3, §6.7): methods,
    # provider references, results and times, the acknowledgement of the impact prompt, the confirmation.
    evidence = EncryptedJSONField(context="servicing.policychange.evidence", default=dict)
    actor = models.CharField(max_length=100)
    created_at = models.DateTimeField()
    applied_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.CharField(max_length=100, blank=True, default="")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_reason = models.CharField(max_length=500, blank=True, default="")
    # The quote worked out on approval that the customer has to confirm (status awaiting_confirmation).
    reconfirm_quote = EncryptedJSONField(context="servicing.policychange.reconfirm_quote", default=dict)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "保全申请"
        verbose_name_plural = "保全申请"
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "idempotency_key"], name="servicing_idempotency_key_per_policy"
            ),
            # Below the service's own check: a policy never has two changes waiting (for review or
            # for the customer's confirmation of new amounts).
            models.UniqueConstraint(
                fields=["policy"],
                condition=models.Q(status__in=["pending_review", "awaiting_confirmation"]),
                name="servicing_one_waiting_change_per_policy",
            ),
        ]

    def __str__(self) -> str:
        return self.change_number

    @property
    def item_name_zh(self) -> str:
        from epolicy.rules.life import ITEM_NAMES

        return ITEM_NAMES.get(self.item, self.item)


class LedgerEntry(models.Model):
    """One movement of a change (ChangeQuote.movements), as posted; the net of a change's entries was
    collected from or paid to the customer in one transfer whose reference every entry carries."""

    class Direction(models.TextChoices):
        COLLECT = "collect", "收取"
        DISBURSE = "disburse", "支付"

    class Status(models.TextChoices):
        POSTED = "posted", "已入账"
        FAILED = "failed", "失败"

    change = models.ForeignKey(PolicyChange, on_delete=models.PROTECT, related_name="ledger")
    line = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=32)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    description = models.CharField(max_length=200)
    transfer_reference = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.POSTED)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["change_id", "line"]
        verbose_name = "保全收付记录"
        verbose_name_plural = "保全收付记录"
        constraints = [models.UniqueConstraint(fields=["change", "line"], name="servicing_ledger_line")]

    def __str__(self) -> str:
        return f"{self.change_id}#{self.line} {self.direction} {self.amount}"


class SandboxTransfer(models.Model):
    """What the sandbox transfer provider was asked to do (its own table: the stand-in for a bank)."""

    reference = models.CharField(max_length=80, unique=True)  # the platform's instruction reference
    provider_reference = models.CharField(max_length=40, unique=True)
    direction = models.CharField(max_length=8)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    policy_number = models.CharField(max_length=32)
    account_token = models.CharField(max_length=200, blank=True, default="")
    account_masked = models.CharField(max_length=40, blank=True, default="")
    description = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        verbose_name = "沙箱收付指令"
        verbose_name_plural = "沙箱收付指令"

    def __str__(self) -> str:
        return f"{self.provider_reference} {self.direction} {self.amount}"
