"""WeChat web authorization of a real official account over HTTPS (domain reference II.8).

    browser → {oauth_authorize_url}?appid=&redirect_uri=&response_type=code&scope=&state=#wechat_redirect
    server  → GET {api_base}/sns/oauth2/access_token?appid=&secret=&code=&grant_type=authorization_code
              ← {"access_token", "expires_in", "refresh_token", "openid", "scope", "is_snapshotuser", …}
                or {"errcode": 40029, "errmsg": …}

Only the openid (and the snapshot flag) is used: the web-auth access token is not kept, since the pages
need no profile (snsapi_base). Settings: settings.WECHAT app_id, app_secret, api_base, timeout_seconds,
oauth_authorize_url, oauth_scope. Errors carry WeChat's errcode only: the URL holds the AppSecret.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ..base import ProviderUnavailable
from .base import OAuthCodeRefused, WeChatIdentity

KIND = "wechat_oauth"
MAX_ANSWER_BYTES = 64 * 1024
# errcode -1: 系统繁忙 — an outage, not a verdict on the code.
BUSY_ERRCODES = frozenset({-1})


class WeChatWebAuth:
    """settings.PROVIDERS["wechat_oauth"] = "epolicy.identity.providers.wechat.official.WeChatWebAuth"."""

    name = "wechat"

    def __init__(self) -> None:
        cfg = getattr(settings, "WECHAT", {})
        self.app_id = str(cfg.get("app_id", ""))
        self.app_secret = str(cfg.get("app_secret", ""))
        self.api_base = str(cfg.get("api_base", "https://api.weixin.qq.com")).rstrip("/")
        self.timeout = float(cfg.get("timeout_seconds", 10))
        self.authorize_base = str(
            cfg.get("oauth_authorize_url", "https://open.weixin.qq.com/connect/oauth2/authorize")
        )

    def authorize_url(self, *, redirect_uri: str, state: str, scope: str) -> str:
        if not self.app_id:
            raise ImproperlyConfigured("the WeChat web authorization needs EPOLICY_WECHAT_APP_ID")
        query = urllib.parse.urlencode(
            [
                ("appid", self.app_id),
                ("redirect_uri", redirect_uri),
                ("response_type", "code"),
                ("scope", scope),
                ("state", state),
            ]
        )
        return f"{self.authorize_base}?{query}#wechat_redirect"

    def exchange_code(self, *, code: str) -> WeChatIdentity:
        if not (self.app_id and self.app_secret):
            raise ProviderUnavailable(KIND, "not configured")
        query = urllib.parse.urlencode(
            {
                "appid": self.app_id,
                "secret": self.app_secret,
                "code": code,
                "grant_type": "authorization_code",
            }
        )
        answer = self._get(f"{self.api_base}/sns/oauth2/access_token?{query}")
        errcode = int(answer.get("errcode") or 0)
        if errcode in BUSY_ERRCODES:
            raise ProviderUnavailable(KIND, f"errcode {errcode}")
        if errcode:
            raise OAuthCodeRefused(f"wechat_{errcode}")
        openid = str(answer.get("openid") or "")
        if not openid:
            raise ProviderUnavailable(KIND, "answer without openid")
        return WeChatIdentity(
            openid=openid,
            is_snapshotuser=int(answer.get("is_snapshotuser") or 0) == 1,
            scope=str(answer.get("scope") or ""),
            unionid=str(answer.get("unionid") or ""),
        )

    def _get(self, url: str) -> dict[str, Any]:
        if not url.startswith(("https://", "http://")):
            raise ProviderUnavailable(KIND, "api_base is not http(s)")
        request = urllib.request.Request(url, method="GET")  # noqa: S310 — the scheme is checked above
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310
                raw = resp.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise ProviderUnavailable(KIND, f"http {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ProviderUnavailable(KIND, exc.__class__.__name__) from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise ProviderUnavailable(KIND, "answer too large")
        try:
            answer = json.loads(raw)
        except ValueError:
            raise ProviderUnavailable(KIND, "answer is not JSON") from None
        if not isinstance(answer, dict):
            raise ProviderUnavailable(KIND, "answer is not a JSON object")
        return answer
