"""The platform PKI's records: credentials (certificates and where their keys are), revocations and CRLs.

A credential's private key lives in one of three online key stores (`key_store`): the database
(PKCS#8, encrypted with settings.SIGNING_KEY_PASSPHRASE, so every app process can sign without a key
file on local disk), encrypted PKCS#8 files in settings.SIGNING_KEY_DIR, or a PKCS#11 token (the key
never leaves it) — or it is `offline`: the root CA's key is not on the platform at all, but on offline
media the operator keeps (`pki.offline`; `key_ref` names its file). The certificates always stay here
because the verifier needs them (trust roots, seal and customer CAs), also after a rotation.
"""

from __future__ import annotations

from django.db import models

from epolicy.common import clock


class SigningCredential(models.Model):
    """One certificate (with its key) of the platform's PKI; the newest active one per role is used."""

    class Role(models.TextChoices):
        ROOT_CA = "root_ca", "根 CA"
        ISSUING_CA = "issuing_ca", "签发 CA"
        SEAL = "seal", "保险公司电子签章"
        CUSTOMER_CA = "customer_ca", "投保人事件证书 CA"
        TSA = "tsa", "时间戳服务"
        # The root of an external RFC 3161 TSA (settings.TSA_URL): trusted for timestamps only, no key.
        TSA_ROOT = "tsa_root", "外部时间戳服务根证书"
        # A licensed CA's (电子认证服务机构) certificates above a seal, TSA or customer CA it certified
        # (`pki.licensed`): trusted for verification, no key.
        CA_ROOT = "ca_root", "电子认证服务机构根证书"
        CA_INTERMEDIATE = "ca_intermediate", "电子认证服务机构中级证书"

    class KeyStore(models.TextChoices):
        DATABASE = "database", "数据库（加密）"
        FILES = "files", "密钥文件（加密）"
        PKCS11 = "pkcs11", "PKCS#11 硬件/软件令牌"
        # Not kept by the platform: the root CA's key, on offline media (see `pki.offline`).
        OFFLINE = "offline", "离线（平台不保存）"
        # A certificate whose key the platform never had: a licensed CA's, or an outside event CA's.
        EXTERNAL = "external", "外部机构持有（平台无密钥）"

    role = models.CharField(max_length=20, choices=Role.choices)
    label = models.CharField(max_length=200)
    certificate = models.BinaryField(help_text="X.509 certificate, DER")
    private_key = models.BinaryField(
        editable=False,
        default=b"",
        blank=True,
        help_text="PKCS#8 PEM, encrypted with the signing passphrase (key store 'database' only)",
    )
    key_store = models.CharField(max_length=16, choices=KeyStore.choices, default=KeyStore.DATABASE)
    key_ref = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="key file name, the key's label in the token, or the name of the offline key file",
    )
    subject = models.TextField()
    serial = models.CharField(max_length=64, help_text="certificate serial number, hex")
    fingerprint_sha256 = models.CharField(max_length=64, unique=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=clock.now)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # Certificates from a licensed CA (`pki.licensed`): who issued this one (empty: the platform's own
    # CAs), and, on a licensed CA's row, where the CRLs it issues and its OCSP responder are.
    external_issuer = models.TextField(
        blank=True, default="", help_text="subject of the licensed CA that issued it"
    )
    crl_url = models.CharField(
        max_length=500, blank=True, default="", help_text="where this CA's CRL is fetched"
    )
    ocsp_url = models.CharField(max_length=500, blank=True, default="", help_text="this CA's OCSP responder")

    class Meta:
        verbose_name = "签章证书与密钥"
        verbose_name_plural = "签章证书与密钥"
        indexes = [models.Index(fields=["role", "active", "-created_at"], name="signing_cred_role_active")]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.subject}"

    @classmethod
    def active_for(cls, role: str) -> SigningCredential | None:
        """The credential of a role currently in use: the newest active one."""
        return cls.objects.filter(role=role, active=True).order_by("-created_at", "-id").first()


class RevokedCertificate(models.Model):
    """A certificate revoked by one of the platform's CAs; listed on every later CRL of that CA."""

    class Reason(models.TextChoices):
        UNSPECIFIED = "unspecified", "未说明"
        KEY_COMPROMISE = "key_compromise", "密钥泄露"
        CA_COMPROMISE = "ca_compromise", "CA 密钥泄露"
        AFFILIATION_CHANGED = "affiliation_changed", "隶属关系变更"
        SUPERSEDED = "superseded", "已被替换"
        CESSATION_OF_OPERATION = "cessation_of_operation", "停止使用"

    issuer = models.ForeignKey(SigningCredential, on_delete=models.PROTECT, related_name="revocations")
    serial = models.CharField(max_length=64, help_text="serial number of the revoked certificate, hex")
    credential = models.ForeignKey(
        SigningCredential,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="the revoked credential if ours (event certificates are not stored)",
    )
    revoked_at = models.DateTimeField(help_text="from when the certificate is no longer to be trusted")
    reason = models.CharField(max_length=32, choices=Reason.choices, default=Reason.UNSPECIFIED)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = "已吊销证书"
        verbose_name_plural = "已吊销证书"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "serial"], name="signing_revoked_issuer_serial")
        ]

    def __str__(self) -> str:
        return f"revoked {self.serial} ({self.reason})"


class CertificateRevocationList(models.Model):
    """A CRL issued by one of the platform's CAs (complete, not a delta); the newest one is current."""

    issuer = models.ForeignKey(SigningCredential, on_delete=models.PROTECT, related_name="crls")
    number = models.PositiveBigIntegerField()
    this_update = models.DateTimeField()
    next_update = models.DateTimeField()
    der = models.BinaryField()
    entries = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = "证书吊销列表"
        verbose_name_plural = "证书吊销列表"
        constraints = [models.UniqueConstraint(fields=["issuer", "number"], name="signing_crl_issuer_number")]
        indexes = [models.Index(fields=["issuer", "-number"], name="signing_crl_issuer_latest")]

    def __str__(self) -> str:
        return f"CRL #{self.number} of {self.issuer_id}"


class PendingKey(models.Model):
    """A key pair made for a certificate request to a licensed CA (`pki.licensed`), not yet in use.

    The key is where a credential's would be (database, files, token: the same fields); `pki_import`
    moves its place to the new credential when the CA's certificate for it arrives, and marks it used.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "待导入证书"
        USED = "used", "已导入"
        DISCARDED = "discarded", "已作废"

    role = models.CharField(max_length=20, choices=SigningCredential.Role.choices)
    algorithm = models.CharField(max_length=16, default="rsa")
    key_store = models.CharField(max_length=16, choices=SigningCredential.KeyStore.choices)
    key_ref = models.CharField(max_length=255, blank=True, default="")
    private_key = models.BinaryField(editable=False, default=b"", blank=True)
    public_key = models.BinaryField(help_text="SubjectPublicKeyInfo, DER")
    public_key_sha256 = models.CharField(max_length=64, unique=True)
    subject = models.TextField()
    csr_pem = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=clock.now)
    used_at = models.DateTimeField(null=True, blank=True)
    credential = models.ForeignKey(
        SigningCredential, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = "待签发密钥"
        verbose_name_plural = "待签发密钥"
        indexes = [models.Index(fields=["role", "status", "-created_at"], name="signing_pending_role")]

    def __str__(self) -> str:
        return f"pending {self.role} key {self.public_key_sha256[:16]} ({self.status})"
