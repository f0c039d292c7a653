"""The development PKI's credentials: certificates and their passphrase-encrypted private keys.

Keys live in the database (PKCS#8, encrypted with settings.SIGNING_KEY_PASSPHRASE) so that every app
process can sign without a key file on local disk. A later PKCS#11 signer replaces only the key part;
the certificates stay here because the verifier needs them (trust roots, seal and customer CAs).
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

    role = models.CharField(max_length=20, choices=Role.choices)
    label = models.CharField(max_length=200)
    certificate = models.BinaryField(help_text="X.509 certificate, DER")
    private_key = models.BinaryField(
        editable=False, help_text="PKCS#8 PEM, encrypted with the signing passphrase"
    )
    subject = models.TextField()
    serial = models.CharField(max_length=64, help_text="certificate serial number, hex")
    fingerprint_sha256 = models.CharField(max_length=64, unique=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        indexes = [models.Index(fields=["role", "active", "-created_at"], name="signing_cred_role_active")]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.subject}"

    @classmethod
    def active_for(cls, role: str) -> SigningCredential | None:
        """The credential of a role currently in use: the newest active one."""
        return cls.objects.filter(role=role, active=True).order_by("-created_at", "-id").first()
