"""An endorsement's additional premium as a payable (epolicy.payments.payables, kind "endorsement"): the
applicant pays it (实名缴费), and the payment's own transaction owes the endorsement's application
through the outbox, so a crash after the money arrived never loses the change."""

from __future__ import annotations

from typing import Any

from epolicy.common import clock
from epolicy.common.money import fen_int
from epolicy.ops.outbox import APPLY_ENDORSEMENT, outbox_enqueue
from epolicy.payments.payables import Payable

from ..models import Endorsement
from .services import missing_steps, require_ready_to_pay


class EndorsementPayable:
    def _get(self, subject_id: int, *, lock: bool) -> Endorsement:
        rows = Endorsement.objects.select_related("policy__applicant")
        if lock:
            rows = rows.select_for_update(of=("self",))
        return rows.get(pk=subject_id)

    def payable(self, subject_id: int, *, lock: bool) -> Payable:
        e = self._get(subject_id, lock=lock)
        applicant = e.policy.applicant
        ready = e.status == Endorsement.Status.SIGNED and e.paid_at is None and e.premium_due > 0
        return Payable(
            reference=e.number,
            amount_fen=fen_int(e.premium_due),
            description=f"批改增加保险费 {e.number}",
            payer_name=applicant.name,
            payer_id_index=applicant.id_number_index,
            # The checks' 30 minutes were enforced when the payment started; the gateway may answer later.
            accepting=ready and missing_steps(e, fresh=False) == ["pay"],
        )

    def require_ready(self, subject_id: int) -> None:
        require_ready_to_pay(self._get(subject_id, lock=False))

    def paid(self, subject_id: int, order: Any, actor: str) -> None:
        e = self._get(subject_id, lock=True)
        e.paid_at = clock.now()
        e.save(update_fields=["paid_at"])
        outbox_enqueue(kind=APPLY_ENDORSEMENT, subject=e.pk, reference=e.number)

    def rearm(self, subject_id: int) -> None:
        e = Endorsement.objects.filter(pk=subject_id).values_list("status", "paid_at", "number").first()
        if e is not None and e[0] == Endorsement.Status.SIGNED and e[1] is not None:
            outbox_enqueue(kind=APPLY_ENDORSEMENT, subject=subject_id, reference=e[2], reopen=True)
