from django.apps import AppConfig


class WeChatConfig(AppConfig):
    name = "epolicy.wechat"
    label = "wechat"
    verbose_name = "微信公众号"

    def ready(self) -> None:
        from . import errors  # noqa: F401 — registers the app's error codes
