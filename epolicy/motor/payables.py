"""The motor application as a payable (epolicy.payments.payables): payments calls back through this."""

from __future__ import annotations

from typing import Any

from epolicy.common.money import fen_int
from epolicy.ops.outbox import ISSUE_POLICY, outbox_enqueue
from epolicy.payments.payables import Payable

from .models import Application
from .selectors import products_short_name
from .services import application_mark_paid, require_ready_to_pay


class ApplicationPayable:
    def _get(self, subject_id: int, *, lock: bool) -> Application:
        rows = Application.objects.select_related("applicant")
        if lock:
            rows = rows.select_for_update(of=("self",))
        return rows.get(pk=subject_id)

    def payable(self, subject_id: int, *, lock: bool) -> Payable:
        app = self._get(subject_id, lock=lock)
        tax = "及代收车船税" if app.vehicle_tax else ""
        return Payable(
            reference=app.number,
            amount_fen=fen_int(app.total_due),
            description=f"{products_short_name(app)}保费{tax} {app.number}",
            payer_name=app.applicant.name,
            payer_id_index=app.applicant.id_number_index,
            accepting=app.status == Application.Status.SIGNED,
        )

    def require_ready(self, subject_id: int) -> None:
        require_ready_to_pay(self._get(subject_id, lock=False))

    def paid(self, subject_id: int, order: Any, actor: str) -> None:
        application_mark_paid(application=self._get(subject_id, lock=True), order=order, actor=actor)

    def rearm(self, subject_id: int) -> None:
        app = Application.objects.filter(pk=subject_id).values_list("status", "number").first()
        if app is not None and app[0] == Application.Status.PAID:
            outbox_enqueue(kind=ISSUE_POLICY, subject=subject_id, reference=app[1], reopen=True)
