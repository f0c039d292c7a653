from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from epolicy.servicing.models import PolicyChange


def _review_followed(change: PolicyChange) -> None:
    """The journey's listener, imported when a review is decided rather than when Django starts (its
    module brings the life rules, the servicing services and the identity checks with it)."""
    from .requests import review_followed

    review_followed(change)


class SelfServiceConfig(AppConfig):
    name = "epolicy.selfservice"
    label = "selfservice"
    verbose_name = "寿险保全客户自助"

    def ready(self) -> None:
        from epolicy.servicing import events

        events.on_review_decided(_review_followed)
