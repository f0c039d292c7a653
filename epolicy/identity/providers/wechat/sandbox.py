"""The sandbox web authorization: behaves as WeChat does (domain reference II.8), with its own consent
page at /sandbox/identity/wechat/authorize (epolicy.identity.sandbox_views) where the tester plays a
WeChat user, picked by nickname.

- Consent sends the browser to redirect_uri?code=CODE&state=STATE; declining, to redirect_uri?state=STATE.
- A code is single use and lives 5 minutes: a replay answers errcode 40163, an unknown or expired code
  40029.
- The openid is random per sandbox user and the same for the same nickname every time.
- "快照页用户" on the page simulates is_snapshotuser=1.
- redirect_uri must be on settings.SITE_URL, as WeChat requires the account's 网页授权域名.
"""

from __future__ import annotations

import datetime as dt
import secrets
import urllib.parse

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from epolicy.common import clock

from ...models import SandboxWeChatCode, SandboxWeChatUser
from .base import OAuthCodeRefused, WeChatIdentity

CODE_MINUTES = 5
SANDBOX_APP_ID = "wxsandbox0000000"
SCOPES = ("snsapi_base", "snsapi_userinfo")


def redirect_allowed(redirect_uri: str) -> bool:
    """On the platform's own site, as WeChat allows only the account's configured domain."""
    return redirect_uri.startswith(settings.SITE_URL.rstrip("/") + "/")


def state_valid(state: str) -> bool:
    return len(state) <= 128 and (state == "" or (state.isascii() and state.isalnum()))


def new_openid() -> str:
    # 28 characters starting with "o", like an official account's openids.
    return "o" + secrets.token_urlsafe(24)[:27]


class SandboxWeChatOAuth:
    name = "sandbox"

    def authorize_url(self, *, redirect_uri: str, state: str, scope: str) -> str:
        query = urllib.parse.urlencode(
            [
                ("appid", SANDBOX_APP_ID),
                ("redirect_uri", redirect_uri),
                ("response_type", "code"),
                ("scope", scope),
                ("state", state),
            ]
        )
        base = settings.SITE_URL + reverse("identity_sandbox:wechat_authorize")
        return f"{base}?{query}#wechat_redirect"

    def exchange_code(self, *, code: str) -> WeChatIdentity:
        now = clock.now()
        with transaction.atomic():
            row = (
                SandboxWeChatCode.objects.select_for_update()
                .select_related("user")
                .filter(code=(code or "")[:64])
                .first()
            )
            if row is None or now > row.expires_at:
                raise OAuthCodeRefused("wechat_40029")  # invalid code
            if row.used_at is not None:
                raise OAuthCodeRefused("wechat_40163")  # code been used
            row.used_at = now
            row.save(update_fields=["used_at"])
        return WeChatIdentity(openid=row.user.openid, is_snapshotuser=row.snapshot, scope=row.scope)

    # --- the consent page's side ------------------------------------------------------------------------
    def consent(self, *, nickname: str, scope: str, snapshot: bool) -> str:
        """The tester allowed as `nickname`: a fresh code for that sandbox user."""
        nickname = " ".join((nickname or "").split())[:32] or "微信用户"
        now = clock.now()
        user = SandboxWeChatUser.objects.filter(nickname=nickname).first()
        if user is None:
            try:
                with transaction.atomic():
                    user = SandboxWeChatUser.objects.create(
                        nickname=nickname, openid=new_openid(), created_at=now
                    )
            except IntegrityError:  # the same nickname consented twice at once
                user = SandboxWeChatUser.objects.get(nickname=nickname)
        row = SandboxWeChatCode.objects.create(
            code=secrets.token_hex(16),
            user=user,
            scope=scope if scope in SCOPES else SCOPES[0],
            snapshot=snapshot,
            created_at=now,
            expires_at=now + dt.timedelta(minutes=CODE_MINUTES),
        )
        return row.code
