"""Signing credentials, revocations and CRLs in the admin: read-only; certificates shown, keys never."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from .models import CertificateRevocationList, RevokedCertificate, SigningCredential


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SigningCredential)
class SigningCredentialAdmin(_ReadOnly):
    list_display = ("role", "label", "serial", "not_before", "not_after", "active", "key_store", "created_at")
    list_filter = ("role", "active", "key_store")
    search_fields = ("label", "subject", "serial", "fingerprint_sha256")
    ordering = ("role", "-created_at")
    fields = (
        "role",
        "label",
        "subject",
        "serial",
        "fingerprint_sha256",
        "not_before",
        "not_after",
        "active",
        "key_store",
        "key_ref",
        "created_at",
        "deactivated_at",
        "certificate_pem",
    )
    readonly_fields = fields

    @admin.display(description="证书（PEM）")
    def certificate_pem(self, obj: SigningCredential) -> str:
        cert = x509.load_der_x509_certificate(bytes(obj.certificate))
        return format_html("<pre>{}</pre>", cert.public_bytes(serialization.Encoding.PEM).decode("ascii"))


@admin.register(RevokedCertificate)
class RevokedCertificateAdmin(_ReadOnly):
    list_display = ("serial", "issuer", "reason", "revoked_at", "created_at")
    list_filter = ("reason",)
    search_fields = ("serial",)
    fields = ("serial", "issuer", "credential", "reason", "revoked_at", "created_at")
    readonly_fields = fields


@admin.register(CertificateRevocationList)
class CertificateRevocationListAdmin(_ReadOnly):
    list_display = ("issuer", "number", "this_update", "next_update", "entries")
    fields = ("issuer", "number", "this_update", "next_update", "entries", "created_at")
    readonly_fields = fields
