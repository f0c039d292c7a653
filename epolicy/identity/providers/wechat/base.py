"""The WeChat web-authorization port (domain reference II.8, 网页授权).

1. `authorize_url`: where the customer's browser goes; WeChat (or the sandbox) shows its consent screen
   (silent with snsapi_base) and sends the browser back to `redirect_uri?code=CODE&state=STATE`, or to
   `redirect_uri?state=STATE` when the user declines.
2. `exchange_code`: the server swaps the code (single use, 5 minutes) for the user's openid.

Rules every implementation keeps: a code refused by WeChat (invalid, used, expired) raises
OAuthCodeRefused; a timeout or outage raises ProviderUnavailable (nothing is known: the customer signs
in again). Never log an openid, a code or the AppSecret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class OAuthCodeRefused(Exception):
    """WeChat refused the code (e.g. errcode 40029 invalid, 40163 already used); `code` is stable."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class WeChatIdentity:
    openid: str = field(repr=False)
    # 1 from WeChat: a 快照页 (snapshot page) virtual account; nothing may be bound to it.
    is_snapshotuser: bool
    scope: str
    unionid: str = field(default="", repr=False)


class WeChatOAuthProvider(Protocol):
    name: str

    def authorize_url(self, *, redirect_uri: str, state: str, scope: str) -> str:
        """The consent page's address; `state` (a-zA-Z0-9, at most 128 bytes) comes back unchanged."""
        ...

    def exchange_code(self, *, code: str) -> WeChatIdentity:
        """The openid behind a code. Raises OAuthCodeRefused, or ProviderUnavailable."""
        ...
