"""Sandbox channels: nothing leaves the machine; every message lands in an outbox the staff console shows
(沙箱短信 /console/sms/, 沙箱微信 /console/notifications/wechat/).

Deterministic failures for tests and demos: the failpoints "notifications.sandbox.sms" and
"notifications.sandbox.wechat" (EPOLICY_FAILPOINTS=...=raise) make a send fail as an unreachable
gateway would (once per process tree with EPOLICY_FAILPOINT_DIR); an openid ending in "-unfollowed" is
refused for good, as WeChat refuses a user who no longer follows the account (errcode 43004).
"""

from __future__ import annotations

from typing import Any

from epolicy.common import clock
from epolicy.common.failpoints import failpoint
from epolicy.common.masking import mask_phone

from ..masking import mask_openid
from ..models import SmsMessage, WeChatMessage
from .base import ProviderError
from .wechat import wechat_config

UNFOLLOWED_SUFFIX = "-unfollowed"


class SandboxSms:
    name = "sandbox"

    def send(self, *, phone: str, text: str, reference: str = "") -> str:
        failpoint("notifications.sandbox.sms")
        msg = SmsMessage.objects.create(
            provider=self.name, phone=phone, phone_masked=mask_phone(phone), text=text, created_at=clock.now()
        )
        return f"sandbox-{msg.pk}"


class SandboxWeChat:
    name = "sandbox"

    def template_for(self, event: str) -> str:
        # Any id does here; a configured one is shown as configured.
        return str(wechat_config()["templates"].get(event) or f"sandbox.{event}")

    def send(
        self, *, openid: str, template_id: str, url: str, data: dict[str, Any], reference: str = ""
    ) -> str:
        failpoint("notifications.sandbox.wechat")
        if openid.endswith(UNFOLLOWED_SUFFIX):
            raise ProviderError("wechat_43004", permanent=True)
        msg = WeChatMessage.objects.create(
            provider=self.name,
            openid=openid,
            openid_masked=mask_openid(openid),
            template_id=template_id,
            url=url,
            data=data,
            client_msg_id=reference,
            created_at=clock.now(),
        )
        return f"sandbox-{msg.pk}"
