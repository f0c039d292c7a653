"""The customer's side of online self-service changes (life guide §6): accounts, bound policies, the
service agreement, identity evidence, change requests with their confirmation, and disputes.

Personal data is encrypted at rest (phones, openids, evidence details, parameters, quotes); look-ups go
through keyed blind indexes. Every public identifier is random (`new_token`): none can be walked.
"""

from __future__ import annotations

import secrets

from django.db import models

from epolicy.common.fields import EncryptedJSONField, EncryptedTextField


def new_token() -> str:
    return secrets.token_urlsafe(18)


class LifeCustomer(models.Model):
    """A person who signed in with a mobile number and an SMS code (§6.2.2.3)."""

    phone = EncryptedTextField(context="selfservice.lifecustomer.phone")
    phone_index = models.CharField(max_length=64, unique=True)
    # The WeChat official account's openid (notifications); set by the WeChat sign-in, or by the sandbox.
    wechat_openid = EncryptedTextField(
        context="selfservice.lifecustomer.wechat_openid", blank=True, default=""
    )
    created_at = models.DateTimeField()
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "自助服务客户"
        verbose_name_plural = "自助服务客户"

    def __str__(self) -> str:
        from epolicy.common.masking import mask_phone

        return mask_phone(self.phone)


class ApiSession(models.Model):
    """A bearer token of the self-service API (an app or mini-program); only its SHA-256 is kept."""

    customer = models.ForeignKey(LifeCustomer, on_delete=models.CASCADE, related_name="api_sessions")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)


class PolicyBinding(models.Model):
    """A life policy bound to a customer by policy number + applicant's name + ID number (§6.2.2.1)."""

    customer = models.ForeignKey(LifeCustomer, on_delete=models.PROTECT, related_name="bindings")
    policy = models.ForeignKey("servicing.LifePolicy", on_delete=models.PROTECT, related_name="+")
    bound_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")
    evidence = models.ForeignKey("archive.ArchivedObject", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "policy"], name="selfservice_bind_once")]


class AgreementAcceptance(models.Model):
    """The customer accepted this version of the self-service agreement (§6.1)."""

    customer = models.ForeignKey(LifeCustomer, on_delete=models.PROTECT, related_name="acceptances")
    version = models.CharField(max_length=32)
    sha256 = models.CharField(max_length=64)
    accepted_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "version", "sha256"], name="selfservice_accept_once")
        ]


class ChangeRequest(models.Model):
    """One change the customer is making, from the form to the applied change (§6.3–§6.7).

    The server moves it through its states and refuses any step out of order: quoted → acknowledged
    (the impact prompt) → identified (every method its risk level needs) → confirmed (SMS code or an
    e-signature on the change-request PDF) → applied / pending review / failed.
    """

    class Status(models.TextChoices):
        QUOTED = "quoted", "已试算，待确认影响提示"
        ACKNOWLEDGED = "acknowledged", "已确认提示，待身份核验"
        IDENTIFIED = "identified", "身份已核验，待确认"
        APPLIED = "applied", "已生效"
        PENDING_REVIEW = "pending_review", "待人工审核"
        RECONFIRM = "reconfirm", "审核通过，金额有变化，待确认"
        REFUSED = "refused", "未通过"
        CANCELLED = "cancelled", "已取消"
        EXPIRED = "expired", "已过期"

    public_id = models.CharField(max_length=32, unique=True, default=new_token)
    customer = models.ForeignKey(LifeCustomer, on_delete=models.PROTECT, related_name="requests")
    policy = models.ForeignKey("servicing.LifePolicy", on_delete=models.PROTECT, related_name="+")
    item = models.CharField(max_length=48)
    level = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUOTED)
    params = EncryptedJSONField(context="selfservice.changerequest.params", default=dict)
    quote = EncryptedJSONField(context="selfservice.changerequest.quote", default=dict)
    quote_sha256 = models.CharField(max_length=64)
    # The quote first confirmed, kept when an approval changed the amounts and `quote` holds the new one.
    first_quote = EncryptedJSONField(context="selfservice.changerequest.first_quote", default=dict)
    based_on_version = models.PositiveIntegerField()
    impact = EncryptedJSONField(context="selfservice.changerequest.impact", default=dict)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    confirmation = EncryptedJSONField(context="selfservice.changerequest.confirmation", default=dict)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    signed_request = models.ForeignKey(
        "archive.ArchivedObject", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    change = models.OneToOneField(
        "servicing.PolicyChange", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    failure = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        verbose_name = "自助保全申请"
        verbose_name_plural = "自助保全申请"


class ChangeAttachment(models.Model):
    """A photo the customer gave for a change (an ID card, a bank card), kept in the archive."""

    request = models.ForeignKey(ChangeRequest, on_delete=models.PROTECT, related_name="attachments")
    kind = models.CharField(max_length=16)  # id_card | bank_card
    archived = models.ForeignKey("archive.ArchivedObject", on_delete=models.PROTECT, related_name="+")
    recognised = EncryptedJSONField(context="selfservice.changeattachment.recognised", default=dict)
    created_at = models.DateTimeField()


class IdentityCheck(models.Model):
    """One identity check for one change request (§6.2.2–6.2.3): its method, the provider's reference,
    the result. Valid only for its own request, until `expires_at`, and used at most once."""

    class Status(models.TextChoices):
        PENDING = "pending", "进行中"
        PASSED = "passed", "通过"
        FAILED = "failed", "未通过"
        EXPIRED = "expired", "已过期"

    public_id = models.CharField(max_length=32, unique=True, default=new_token)
    request = models.ForeignKey(ChangeRequest, on_delete=models.PROTECT, related_name="checks")
    customer = models.ForeignKey(LifeCustomer, on_delete=models.PROTECT, related_name="+")
    policy = models.ForeignKey("servicing.LifePolicy", on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=16)  # binding | sms | realname | face | video
    provider = models.CharField(max_length=40, blank=True, default="")
    reference = models.CharField(max_length=80, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    score = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    detail = EncryptedJSONField(context="selfservice.identitycheck.detail", default=dict)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["request", "method", "status"], name="selfservice_check_idx")]


class Dispute(models.Model):
    """ "不是本人操作" (§6.8): opened from a notification's link; freezes money-out items of the policy
    until staff close it."""

    class Status(models.TextChoices):
        OPEN = "open", "处理中"
        CONFIRMED_BY_CUSTOMER = "confirmed", "已核实为本人操作"
        FRAUD = "fraud", "已核实为非本人操作"

    public_id = models.CharField(max_length=32, unique=True, default=new_token)
    # The link in the notification: its SHA-256 only (the link is the secret).
    link_hash = models.CharField(max_length=64, unique=True)
    policy = models.ForeignKey("servicing.LifePolicy", on_delete=models.PROTECT, related_name="+")
    change = models.ForeignKey(
        "servicing.PolicyChange", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    request = models.ForeignKey(
        ChangeRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(null=True, blank=True)  # None: the link exists, nobody used it
    description = EncryptedTextField(context="selfservice.dispute.description", blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=100, blank=True, default="")
    resolution_note = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        verbose_name = "非本人操作申诉"
        verbose_name_plural = "非本人操作申诉"
