"""Channel providers (settings.PROVIDERS "sms" and "wechat"; e-mail goes through Django's mail backends).

A provider sends one message and returns its own id for it, or raises: `ProviderError` with a stable
code (and `permanent` when trying again cannot help: an unknown recipient, a user who unfollowed the
account), `OSError` when the gateway cannot be reached. Messages of exceptions carry codes only, never
a phone number, an openid or a text: they end up in logs.
"""

from __future__ import annotations

from typing import Any, Protocol


class ProviderError(Exception):
    """The gateway answered and refused; `code` is stable (e.g. "sms_refused", "wechat_43004")."""

    def __init__(self, code: str, *, permanent: bool = False):
        super().__init__(code)
        self.code = code
        self.permanent = permanent


class SmsProvider(Protocol):
    name: str

    def send(self, *, phone: str, text: str, reference: str = "") -> str:
        """Send one SMS; return the gateway's message id.

        `reference` is the delivery's stable id: gateways that take a caller's id (an "out id") can
        use it to recognise a repeat after a crash.
        """
        ...


class WeChatProvider(Protocol):
    name: str

    def template_for(self, event: str) -> str:
        """The account's template id for an event kind, or "" when none is configured (the channel is
        then skipped for that event)."""
        ...

    def send(
        self, *, openid: str, template_id: str, url: str, data: dict[str, Any], reference: str = ""
    ) -> str:
        """Send one template message (`data` as WeChat wants it: {key: {"value": text}}); return its
        msgid. `reference` goes out as `client_msg_id`."""
        ...
