"""Public addresses of a policy."""

from __future__ import annotations

from django.conf import settings


def verify_url(policy_number: str, verify_code: str = "") -> str:
    """The QR code's address: the number, and the random code without which it says nothing."""
    return f"{settings.SITE_URL}/v/{policy_number}" + (f"?c={verify_code}" if verify_code else "")


def wechat_policy_url(policy_number: str) -> str:
    """The policy's page among the WeChat pages (epolicy.wechat: /wx/p/<number>/), opened from a message."""
    return f"{settings.SITE_URL}/wx/p/{policy_number}/"
