from django.apps import AppConfig


class SelfServiceConfig(AppConfig):
    name = "epolicy.selfservice"
    label = "selfservice"
    verbose_name = "寿险保全客户自助"

    def ready(self) -> None:
        from epolicy.servicing import events

        from .requests import review_followed

        events.on_review_decided(review_followed)
