"""Shared API pieces: authentication of insurer systems and staff, and Chinese validation messages."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django_otp import user_has_device
from ninja.security import APIKeyHeader, SessionAuth

from .models import ApiClient

_PROBLEMS = {
    "missing": "必填",
    "int_parsing": "应为整数",
    "decimal_parsing": "应为数字",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "string_type": "应为文本",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "string_too_long": "内容过长",
    "string_too_short": "内容过短",
    "literal_error": "取值不在允许范围内",
    "json_invalid": "不是有效的 JSON",
}


def validation_message(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """One Chinese sentence naming each wrong field and what is wrong with it."""
    fields = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "payload", "query", "path", "form")]
        name = ".".join(loc) or "请求"
        fields.append({"field": name, "problem": _PROBLEMS.get(str(err.get("type")), "格式不正确")})
    listed = "；".join(f"{f['field']}：{f['problem']}" for f in fields[:6])
    return f"提交的信息有误，请修改后重试（{listed}）。", fields


class ApiKeyAuth(APIKeyHeader):
    """Other systems of the insurer: header `X-API-Key: ep_...` (keys created with `epolicy api_client`)."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not key:
            return None
        client = ApiClient.objects.filter(key_hash=ApiClient.hash_key(key), active=True).first()
        return f"api:{client.name}" if client else None


class StaffSessionAuth(SessionAuth):
    """Staff logged in to the console; past the second factor when it is owed (docs/staff-security.md)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None or not user.is_staff:
            return None
        if not user.is_verified() and (settings.STAFF_OTP_REQUIRED or user_has_device(user)):
            return None  # password only: the second factor is still owed
        return f"staff:{user.get_username()}"


SYSTEM_AUTH = [ApiKeyAuth(), StaffSessionAuth()]
