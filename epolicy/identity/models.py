"""One-time SMS codes and image captchas: stored hashed, expiring, with attempt limits."""

from __future__ import annotations

from django.db import models


class OtpChallenge(models.Model):
    purpose = models.CharField(max_length=32)
    subject = models.CharField(max_length=64, db_index=True)
    phone_index = models.CharField(max_length=64, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]


class Captcha(models.Model):
    token = models.CharField(max_length=43, unique=True)
    answer_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)  # the hourly purge (captcha.captcha_purge)
    used = models.BooleanField(default=False)


class RateEvent(models.Model):
    """One counted action (query, verification upload) of a client, for sliding-window rate limits."""

    bucket = models.CharField(max_length=32)
    client = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        # The first for counting a client's actions, the second for the hourly purge (ratelimit.py).
        indexes = [models.Index(fields=["bucket", "client", "at"]), models.Index(fields=["at"])]


# --- The sandbox identity providers' own books (what a vendor keeps on its own servers) -------------
# Imported here, not at the top: these classes were appended to a shared module as one block.
from epolicy.common.fields import EncryptedTextField  # noqa: E402


class SandboxRealNameCheck(models.Model):
    """One four-element check by the sandbox real-name service: one row per request_id, so a repeated
    request answers the first result (epolicy/identity/providers/sandbox.py)."""

    request_id = models.CharField(max_length=64, unique=True)
    reference = models.CharField(max_length=40, unique=True)
    # Keyed hash of the four elements: a request_id reused with other data is refused, not answered.
    fingerprint = models.CharField(max_length=64)
    name = EncryptedTextField(context="identity.sandbox_realname.name")
    id_number = EncryptedTextField(context="identity.sandbox_realname.id_number")
    bank_card_masked = models.CharField(max_length=24)
    phone_masked = models.CharField(max_length=24)
    status = models.CharField(max_length=8)  # passed, failed
    reason_zh = models.CharField(max_length=200, blank=True)
    calls = models.PositiveIntegerField(default=1)  # requests received under this request_id
    checked_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["passed", "failed"]), name="identity_sandbox_realname_status"
            )
        ]


class SandboxIdentitySession(models.Model):
    """A face capture or a video session of the sandbox providers: the state behind their hosted
    pages at /sandbox/identity/<kind>/<reference>/. An open session past expires_at is expired."""

    kind = models.CharField(max_length=8, choices=[("face", "face"), ("video", "video")])
    reference = models.CharField(max_length=64, unique=True)  # unguessable: it is in the page's URL
    request_id = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)  # keyed hash of the request, as above
    name = EncryptedTextField(context="identity.sandbox_session.name")
    id_number = EncryptedTextField(context="identity.sandbox_session.id_number")
    return_url = models.URLField(max_length=2000)
    status = models.CharField(max_length=8, default="pending")  # pending, passed, failed
    outcome = models.CharField(max_length=16, blank=True)  # the simulated outcome chosen on the page
    liveness = models.BooleanField(null=True)
    score = models.FloatField(null=True)
    recording_reference = models.CharField(max_length=40, blank=True)
    agent = models.CharField(max_length=40, blank=True)
    reason_zh = models.CharField(max_length=200, blank=True)
    result_timeouts_due = models.PositiveSmallIntegerField(default=0)  # result queries still to time out
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "request_id"], name="identity_sandbox_session_request"),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "passed", "failed"]),
                name="identity_sandbox_session_status",
            ),
        ]


# --- WeChat: openids bound to people, and the sandbox web authorization's own books ------------------
class WeChatBinding(models.Model):
    """An openid of the insurer's official account bound to a person (docs/wechat.md).

    The person is the Customer row that proved it (ID number + SMS code to the phone on file); since the
    motor side makes a Customer row per application, readers go from it to the person by the ID number's
    blind index (epolicy.identity.wechat). One openid may be bound to several people (a household's
    phone), and one person to several openids; each pair once.
    """

    openid = EncryptedTextField(context="identity.wechat_binding.openid")
    # Keyed blind index of the openid: the binding is found by it, never by the clear value.
    openid_index = models.CharField(max_length=64, db_index=True)
    customer = models.ForeignKey("parties.Customer", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["openid_index", "customer"], name="identity_wechat_binding_once")
        ]

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.openid_index = self.index_of(self.openid)  # derived column, kept beside its value
        super().save(*args, **kwargs)

    @staticmethod
    def index_of(openid: str) -> str:
        from epolicy.common import crypto

        return crypto.blind_index(openid.strip(), context="wechat_openid")


class SandboxWeChatUser(models.Model):
    """A "WeChat user" of the sandbox authorization, chosen by the tester by nickname: a random openid,
    the same every time the same nickname consents (as WeChat gives one openid per user and account)."""

    nickname = models.CharField(max_length=32, unique=True)
    openid = EncryptedTextField(context="identity.sandbox_wechat.openid")
    created_at = models.DateTimeField()


class SandboxWeChatCode(models.Model):
    """An authorization code of the sandbox: single use, valid 5 minutes (domain reference II.8)."""

    code = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(SandboxWeChatUser, on_delete=models.CASCADE, related_name="codes")
    scope = models.CharField(max_length=32)
    snapshot = models.BooleanField(default=False)  # is_snapshotuser=1: a 快照页 virtual account
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
