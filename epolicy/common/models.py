"""Cross-cutting tables: gap-free number sequences and API clients of other insurer systems."""

from __future__ import annotations

import hashlib
import secrets

from django.db import models

# The SM envelope's error codes exist as soon as Django has loaded this app (they are raised by the
# middleware and the core-system adapter, and listed in docs/errors.md).
from epolicy.common.gm import errors as _envelope_errors  # noqa: F401


class Sequence(models.Model):
    """A named counter advanced under a row lock (document numbers must never repeat)."""

    name = models.CharField(max_length=64, unique=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


# What an API client may do (docs/api.md "Scopes"). A client sees only the applications it created, and
# the archive of their policies, unless it also holds the matching ":all" scope.
SCOPES: dict[str, str] = {
    "motor:read": "查询本系统提交的投保单",
    "motor:write": "报价、提交、审批、撤回重新生成本系统提交的投保单",
    "motor:all": "对所有投保单行使上述权限（不限于本系统提交的）",
    "archive:read": "检索、下载本系统投保单所出保单的影像资料",
    "archive:all": "检索、下载所有保单的影像资料",
    "servicing:read": "查询寿险保单及保全记录",
    "servicing:write": "寿险保全试算与申请（不含付款类项目）",
    "servicing:payout": "办理付款类保全项目（退保、借款、领取、减保、变更收付款账户或授权）",
    "tsa": "使用平台时间戳服务",
}


class ApiClient(models.Model):
    """Another system of the insurer (core, channel, claims) calling the JSON API with a bearer key.

    Only a SHA-256 of the key is kept (the key is shown once). A rotation keeps the previous key valid
    until `previous_valid_until`, so the client can switch without downtime.
    """

    name = models.CharField(max_length=100, unique=True)
    owner = models.CharField("负责人/部门", max_length=100, blank=True, default="")
    scopes = models.JSONField("权限", default=list, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=12, blank=True, default="")  # to recognise a key in lists
    previous_key_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    previous_valid_until = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The SM envelope (docs/sm-envelope.md): the client's SM2 certificate or public key (PEM), which
    # verifies its envelopes and receives the answers; and whether it may still call in plaintext.
    sm2_public_key = models.TextField("SM2 证书或公钥（PEM）", blank=True, default="")
    require_envelope = models.BooleanField("必须使用国密报文", default=False)

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def new_key() -> str:
        return "ep_" + secrets.token_urlsafe(32)

    @classmethod
    def create_with_key(
        cls, name: str, *, scopes: list[str] | None = None, owner: str = ""
    ) -> tuple[ApiClient, str]:
        unknown = sorted(set(scopes or []) - set(SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(unknown)}; known: {', '.join(SCOPES)}")
        key = cls.new_key()
        client = cls.objects.create(
            name=name,
            owner=owner,
            scopes=sorted(set(scopes or [])),
            key_hash=cls.hash_key(key),
            key_prefix=key[:10],
        )
        return client, key

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])


class ApiRequestLog(models.Model):
    """Each use of an API key: which client, what it called, the answer (the partner's audit trail)."""

    client = models.ForeignKey(ApiClient, on_delete=models.PROTECT, related_name="requests")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    status = models.PositiveSmallIntegerField(default=0)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["client", "at"], name="common_apireq_client_at")]


class EnvelopeNonce(models.Model):
    """A nonce of an SM envelope that was accepted: the same (sender, nonce) is refused as a replay.

    Kept in the database so that every process and machine shares it; a row is only needed while its
    envelope's timestamp could still pass the time window, so older rows are deleted as new ones come.
    """

    sender = models.CharField(max_length=100)
    nonce = models.CharField(max_length=32)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sender", "nonce"], name="common_envelope_nonce_once")]

    def __str__(self) -> str:
        return f"{self.sender}:{self.nonce}"
