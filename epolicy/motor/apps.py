from django.apps import AppConfig


class MotorConfig(AppConfig):
    name = "epolicy.motor"
    label = "motor"
