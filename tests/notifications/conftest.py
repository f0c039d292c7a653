import pytest


@pytest.fixture(autouse=True)
def _notification_settings(settings):
    settings.PROVIDERS = {
        **settings.PROVIDERS,
        "sms": "epolicy.notifications.providers.sandbox.SandboxSms",
        "wechat": "epolicy.notifications.providers.sandbox.SandboxWeChat",
    }
    settings.WECHAT = {}
    settings.OUTBOX = {**settings.OUTBOX, "retry_base_seconds": 30, "retry_max_seconds": 3600}
