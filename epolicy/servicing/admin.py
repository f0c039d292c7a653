"""Admin views of life policies, changes, ledger and sandbox transfers: read-only (changes are made
through the services, which lock, version, seal and audit)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from epolicy.common.masking import mask_name

from .models import LedgerEntry, LifePolicy, LifePolicyVersion, PolicyChange, SandboxTransfer


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VersionInline(_ReadOnly, admin.TabularInline):
    model = LifePolicyVersion
    fields = ("version", "reason", "change", "created_at")
    extra = 0
    show_change_link = True


@admin.register(LifePolicy)
class LifePolicyAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("number", "product_code", "applicant", "status", "current_version", "created_at")
    list_filter = ("product_code", "status")
    search_fields = ("number",)
    inlines = [VersionInline]

    # Masked, and not sortable: the column holds ciphertext, whose order means nothing.
    @admin.display(description="投保人")
    def applicant(self, obj: LifePolicy) -> str:
        return mask_name(obj.applicant_name)


@admin.register(LifePolicyVersion)
class LifePolicyVersionAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("policy", "version", "reason", "created_at")
    search_fields = ("policy__number",)


class LedgerInline(_ReadOnly, admin.TabularInline):
    model = LedgerEntry
    fields = ("line", "kind", "direction", "amount", "description", "transfer_reference", "status")
    extra = 0


@admin.register(PolicyChange)
class PolicyChangeAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = (
        "change_number",
        "policy",
        "item",
        "status",
        "amount_to_pay",
        "amount_to_receive",
        "endorsement_number",
        "channel",
        "created_at",
    )
    list_filter = ("status", "item", "channel")
    search_fields = ("change_number", "policy__number", "endorsement_number")
    # The evidence may hold personal data: the console's change page shows its summary instead.
    exclude = ("request_hash", "evidence")
    inlines = [LedgerInline]


@admin.register(SandboxTransfer)
class SandboxTransferAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = (
        "provider_reference",
        "direction",
        "amount",
        "policy_number",
        "account_masked",
        "created_at",
    )
    search_fields = ("policy_number", "reference", "provider_reference")
