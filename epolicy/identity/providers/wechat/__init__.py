"""WeChat web authorization (网页授权, domain reference II.8): who opens the pages under /wx/ inside WeChat.

The port is in base.py, the sandbox (with its own consent page under /sandbox/identity/wechat/) in
sandbox.py, the HTTP adapter for a real official account in official.py; settings.PROVIDERS
["wechat_oauth"] names the class to use (production refuses the sandbox).
"""

from __future__ import annotations

from typing import cast

from epolicy.common.providers import get_provider

from .base import OAuthCodeRefused, WeChatIdentity, WeChatOAuthProvider

__all__ = ["OAuthCodeRefused", "WeChatIdentity", "WeChatOAuthProvider", "wechat_oauth_provider"]


def wechat_oauth_provider() -> WeChatOAuthProvider:
    """The configured web-authorization provider (settings.PROVIDERS["wechat_oauth"])."""
    return cast(WeChatOAuthProvider, get_provider("wechat_oauth"))
