"""Admin views of the archive register: read-only; deletion only through the four-eyes services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from epolicy.common.errors import ApplicationError

from .models import ArchiveDeletionRequest, ArchivedObject
from .services import archive_deletion_approve, archive_deletion_reject, archive_deletion_request


def _actor(request: HttpRequest) -> str:
    return f"staff:{request.user.get_username()}"


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _each(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, call: Any) -> None:
    done = 0
    for item in queryset:
        try:
            call(item)
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"#{item.pk}：{exc.message_zh}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"已处理 {done} 项。", messages.SUCCESS)


@admin.register(ArchivedObject)
class ArchivedObjectAdmin(_ReadOnlyAdmin):
    list_display = (
        "id", "kind", "key", "subject_type", "subject_id", "size", "retention_until", "replicated_at",
        "deleted_at",
    )  # fmt: skip
    list_filter = ("kind", "subject_type")
    search_fields = ("=key", "=sha256", "=public_id")
    show_full_result_count = False
    fields = (
        "key", "kind", "sha256", "size", "content_type", "subject_type", "subject_id", "retention_until",
        "superseded_by", "created_at", "replicated_at", "deleted_at", "purged_at",
    )  # fmt: skip
    readonly_fields = fields
    actions = ["request_deletion"]

    @admin.action(description="申请删除（已过保存期限；须另一名工作人员审批）")
    def request_deletion(self, request: HttpRequest, queryset: QuerySet) -> None:
        _each(
            self,
            request,
            queryset,
            lambda obj: archive_deletion_request(
                obj=obj, actor=_actor(request), reason="保存期限届满，申请销毁"
            ),
        )


@admin.register(ArchiveDeletionRequest)
class ArchiveDeletionRequestAdmin(_ReadOnlyAdmin):
    list_display = ("id", "archived_object", "status", "requested_by", "requested_at", "decided_by")
    list_filter = ("status",)
    fields = (
        "archived_object", "reason", "status", "requested_by", "requested_at", "decided_by", "decided_at",
        "decision_note",
    )  # fmt: skip
    readonly_fields = fields
    actions = ["approve", "reject"]

    @admin.action(description="批准删除（两处副本将被删除，登记信息保留）")
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        _each(
            self,
            request,
            queryset,
            lambda r: archive_deletion_approve(request_id=r.pk, actor=_actor(request)),
        )

    @admin.action(description="驳回删除申请")
    def reject(self, request: HttpRequest, queryset: QuerySet) -> None:
        _each(
            self, request, queryset, lambda r: archive_deletion_reject(request_id=r.pk, actor=_actor(request))
        )
