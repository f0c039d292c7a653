"""WeChat official-account template messages over HTTPS (domain reference II.8, 模板消息).

    POST {api_base}/cgi-bin/message/template/send?access_token=TOKEN
    {"touser": openid, "template_id": ..., "url": ..., "client_msg_id": ..., "data": {key: {"value": ...}}}

The base access token is fetched with the account's AppID and AppSecret
(GET {api_base}/cgi-bin/token?grant_type=client_credential&appid=&secret=) and kept in Django's cache,
which every process shares when EPOLICY_CACHE_URL names Redis, until shortly before it expires; one
process fetches while the others wait for it (a new token replaces the old one at WeChat, so processes
must not fetch in turns). An answer saying the token is invalid or expired (errcode 40001, 40014, 42001)
drops it and the message is sent once more with a fresh one.

Settings (settings.WECHAT, each key optional): app_id, app_secret, api_base, timeout_seconds, and
templates {event kind: template id} — an event without a template id is skipped on this channel.
Tokens, openids and texts are never logged; errors carry WeChat's errcode only.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from django.conf import settings
from django.core.cache import cache

from .base import ProviderError

DEFAULTS: dict[str, Any] = {
    "app_id": "",
    "app_secret": "",
    "api_base": "https://api.weixin.qq.com",
    "timeout_seconds": 10.0,
    "templates": {},
}
# errcodes meaning "this access token is no good": fetch another and try once more.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# errcodes that no retry can cure: an openid this account does not know, a user who does not follow it.
PERMANENT_ERRCODES = frozenset({40003, 43004})
# Keep a token this much less than WeChat says it lives, so that none is used as it expires.
TOKEN_MARGIN_SECONDS = 300
TOKEN_LOCK_SECONDS = 15
TOKEN_WAIT_SECONDS = 5.0
MAX_ANSWER_BYTES = 1024 * 1024


def wechat_config() -> dict[str, Any]:
    return {**DEFAULTS, **getattr(settings, "WECHAT", {})}


class WeChatTemplateMessages:
    """The HTTP adapter (settings.PROVIDERS["wechat"] = "epolicy.notifications.providers.wechat.
    WeChatTemplateMessages")."""

    name = "wechat"

    def __init__(self) -> None:
        cfg = wechat_config()
        self.app_id = str(cfg["app_id"])
        self.app_secret = str(cfg["app_secret"])
        self.api_base = str(cfg["api_base"]).rstrip("/")
        self.timeout = float(cfg["timeout_seconds"])
        self.templates: dict[str, str] = dict(cfg["templates"])

    # --- the Protocol ---------------------------------------------------------------------------------
    def template_for(self, event: str) -> str:
        return str(self.templates.get(event, ""))

    def send(
        self, *, openid: str, template_id: str, url: str, data: dict[str, Any], reference: str = ""
    ) -> str:
        body: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if url:
            body["url"] = url
        if reference:
            body["client_msg_id"] = reference
        token = self.access_token()
        answer = self._send_with(token, body)
        if answer.get("errcode") in TOKEN_ERRCODES:
            self.forget_token(token)
            answer = self._send_with(self.access_token(), body)
        errcode = int(answer.get("errcode") or 0)
        if errcode:
            raise ProviderError(f"wechat_{errcode}", permanent=errcode in PERMANENT_ERRCODES)
        return str(answer.get("msgid", ""))

    # --- the access token -------------------------------------------------------------------------------
    @property
    def _token_key(self) -> str:
        return f"notifications:wechat:access_token:{self.app_id}"

    def access_token(self) -> str:
        """The cached token, or a new one (fetched by one process at a time)."""
        token = cache.get(self._token_key)
        if token:
            return str(token)
        lock_key, mine = f"{self._token_key}:lock", secrets.token_hex(8)
        if not cache.add(lock_key, mine, timeout=TOKEN_LOCK_SECONDS):
            deadline = time.monotonic() + TOKEN_WAIT_SECONDS
            while time.monotonic() < deadline:  # another process is fetching: use what it gets
                time.sleep(0.1)
                token = cache.get(self._token_key)
                if token:
                    return str(token)
        try:
            token, expires_in = self._fetch_token()
            cache.set(self._token_key, token, timeout=max(expires_in - TOKEN_MARGIN_SECONDS, 60))
        finally:
            if cache.get(lock_key) == mine:
                cache.delete(lock_key)
        return token

    def forget_token(self, token: str) -> None:
        """Drop a token WeChat refused, unless another process has replaced it already."""
        if cache.get(self._token_key) == token:
            cache.delete(self._token_key)

    def _fetch_token(self) -> tuple[str, int]:
        if not (self.app_id and self.app_secret):
            raise ProviderError("wechat_not_configured")
        query = urllib.parse.urlencode(
            {"grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret}
        )
        answer = self._call("GET", f"{self.api_base}/cgi-bin/token?{query}")
        if answer.get("errcode") or not answer.get("access_token"):
            raise ProviderError(f"wechat_token_{int(answer.get('errcode') or 0)}")
        return str(answer["access_token"]), int(answer.get("expires_in") or 7200)

    # --- HTTP -------------------------------------------------------------------------------------------
    def _send_with(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        query = urllib.parse.urlencode({"access_token": token})
        return self._call(
            "POST",
            f"{self.api_base}/cgi-bin/message/template/send?{query}",
            json.dumps(body, ensure_ascii=False).encode(),
        )

    def _call(self, method: str, url: str, data: bytes | None = None) -> dict[str, Any]:
        """One request; the answer's JSON. Raises OSError when WeChat cannot be reached and
        ProviderError for an answer that is not JSON (neither message carries the URL: it has the token)."""
        if not url.startswith(("https://", "http://")):
            raise ProviderError("wechat_not_configured")
        request = urllib.request.Request(  # noqa: S310 — the scheme is checked above
            url, data=data, method=method, headers={"Content-Type": "application/json; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310
                raw = resp.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise ProviderError(f"wechat_http_{exc.code}") from None
        except (urllib.error.URLError, TimeoutError) as exc:
            raise OSError(f"wechat unreachable ({exc.__class__.__name__})") from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise ProviderError("wechat_bad_answer")
        try:
            answer = json.loads(raw)
        except ValueError:
            raise ProviderError("wechat_bad_answer") from None
        if not isinstance(answer, dict):
            raise ProviderError("wechat_bad_answer")
        return answer
