from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "epolicy.payments"
    label = "payments"
