from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.apps import AppConfig

if TYPE_CHECKING:
    from epolicy.payments.payables import Payable, PayableOwner


class _LazyPayableOwner:
    """A payable owner imported on its first use, not when Django starts.

    The owners' modules import the application and endorsement services (and through them the PDF
    renderers and pyHanko's signers): every management command, `epolicy help` included, would pay for
    that import while only a payment needs it.
    """

    def __init__(self, module: str, name: str) -> None:
        self._module = module
        self._name = name
        self._owner: PayableOwner | None = None

    def _get(self) -> PayableOwner:
        if self._owner is None:
            self._owner = getattr(import_module(self._module), self._name)()
        return self._owner

    def payable(self, subject_id: int, *, lock: bool) -> Payable:
        return self._get().payable(subject_id, lock=lock)

    def require_ready(self, subject_id: int) -> None:
        self._get().require_ready(subject_id)

    def paid(self, subject_id: int, order: Any, actor: str) -> None:
        self._get().paid(subject_id, order, actor)

    def rearm(self, subject_id: int) -> None:
        self._get().rearm(subject_id)


class MotorConfig(AppConfig):
    name = "epolicy.motor"
    label = "motor"
    verbose_name = "车险电子投保"

    def ready(self) -> None:
        from .errors import register

        register()

        from epolicy.payments.payables import register_payable_owner

        register_payable_owner(_LazyPayableOwner("epolicy.motor.payables", "ApplicationPayable"))
        register_payable_owner(
            _LazyPayableOwner("epolicy.motor.endorsements.payables", "EndorsementPayable"), kind="endorsement"
        )

        from epolicy.archive.subjects import register_subject_owner

        from .models import Application

        register_subject_owner(
            "motor.application",
            lambda client: Application.objects.filter(created_by_client=client).values("pk"),
        )
