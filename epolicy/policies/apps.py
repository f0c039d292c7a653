from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "epolicy.policies"
    label = "policies"
