"""Read-only admin views of the audit log: nobody adds, changes or deletes events or anchors here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditAnchor, AuditChainHead, AuditEvent


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(_ReadOnlyAdmin):
    list_display = ("seq", "occurred_at", "actor", "action", "subject_type", "subject_id")
    list_filter = ("subject_type",)
    search_fields = ("=subject_id", "=actor", "action")
    ordering = ("-seq",)
    date_hierarchy = "occurred_at"
    show_full_result_count = False  # counting a large log on every page is slow
    fields = (*list_display, "data", "prev_hash", "hash", "key_id")
    readonly_fields = fields


@admin.register(AuditChainHead)
class AuditChainHeadAdmin(_ReadOnlyAdmin):
    list_display = ("last_seq", "last_hash", "updated_at")
    fields = list_display
    readonly_fields = fields


@admin.register(AuditAnchor)
class AuditAnchorAdmin(_ReadOnlyAdmin):
    """The console's copy of the anchors; `epolicy audit_verify` reads the objects in the archive instead."""

    list_display = ("seq", "hash", "key_id", "timestamped_at", "anchored_at", "object_key")
    ordering = ("-seq",)
    show_full_result_count = False
    fields = list_display
    readonly_fields = fields
