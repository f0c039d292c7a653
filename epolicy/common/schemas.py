"""Shared API pieces: authentication of insurer systems and staff, and Chinese validation messages."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django_otp import user_has_device
from ninja.security import APIKeyHeader, SessionAuth

from . import clock
from .errors import ApplicationError
from .models import SCOPES, ApiClient

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


def api_client_for_key(key: str, request: HttpRequest | None = None) -> ApiClient | None:
    """The active client whose key (or, during a rotation's overlap, previous key) this is.

    With `request`, the answer is kept on it for that key: the SM envelope middleware and the API's
    authentication both ask for the same request, and one look-up answers both."""
    memo = getattr(request, "_api_key_lookup", None) if request is not None else None
    if memo is not None and memo[0] == key:  # the same request's own header: nothing to time
        found: ApiClient | None = memo[1]
        return found
    digest = ApiClient.hash_key(key)
    client = ApiClient.objects.filter(key_hash=digest, active=True).first()
    if client is None:
        client = ApiClient.objects.filter(
            previous_key_hash=digest, active=True, previous_valid_until__gt=clock.now()
        ).first()
    if request is not None:
        request._api_key_lookup = (key, client)  # type: ignore[attr-defined]
    return client


def request_api_client(request: HttpRequest) -> ApiClient | None:
    """The API client a request was authenticated as (None: a staff session)."""
    client = getattr(request, "api_client", None)
    return client if isinstance(client, ApiClient) else None


class ApiKeyAuth(APIKeyHeader):
    """Other systems of the insurer: header `X-API-Key: ep_...` (keys made with `epolicy api_client`).

    A valid key without `scope` is refused with scope_denied (403); the client is remembered on the
    request (its use is logged by ApiRequestLogMiddleware, ownership checks read it).
    """

    param_name = "X-API-Key"

    def __init__(self, scope: str) -> None:
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}")
        self.scope = scope
        super().__init__()

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not key:
            return None
        client = api_client_for_key(key, request)
        if client is None:
            return None
        request.api_client = client  # type: ignore[attr-defined]
        if not client.has_scope(self.scope):
            raise ApplicationError(
                "scope_denied",
                f"该接口凭证没有“{SCOPES[self.scope]}”权限（{self.scope}），请联系保险公司开通。",
                {"scope": self.scope},
            )
        return f"api:{client.name}"


class StaffSessionAuth(SessionAuth):
    """Staff logged in to the console; past the second factor when it is owed (docs/staff-security.md).

    The CSRF check guards a session only: a request without a logged-in session has nothing a forged
    request could ride on, so it is simply not authenticated (401 not_authenticated, as documented) and
    never refused for CSRF. A logged-in session without a valid CSRF token is refused (403).
    """

    def _get_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        key: str | None = super()._get_key(request)
        return key

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None or not user.is_staff:
            return None
        if not user.is_verified() and (settings.STAFF_OTP_REQUIRED or user_has_device(user)):
            return None  # password only: the second factor is still owed
        return f"staff:{user.get_username()}"


def system_auth(scope: str) -> list[Any]:
    """Who may call an endpoint of the insurer's systems: an API key holding `scope`, or staff."""
    return [ApiKeyAuth(scope), StaffSessionAuth()]
