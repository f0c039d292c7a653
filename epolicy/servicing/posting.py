"""Making a worked-out change real, inside the caller's transaction (life guide §6.7).

`post_change` stores the quote's new state as the next version, issues the sealed e-endorsement into
the archive, moves the net amount through the transfer provider and posts the ledger lines. The caller
holds the policy's row lock, then writes its audit record last. Anything raised here rolls the whole
change back; the only trace that can outlive a rollback is the endorsement's bytes in storage, which
are never registered (the archive adopts identical bytes on a later attempt, and its scrub reports the
rest).

Order: version, endorsement, transfer, ledger. The transfer is the last thing that can fail before the
audit record, so no money moves for a change whose document could not be made.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put, retention_until
from epolicy.common import clock
from epolicy.common.errors import ApplicationError
from epolicy.common.numbering import document_number
from epolicy.rules.life import ChangeQuote, LifeCatalogue, PaymentAccount, PolicyState
from epolicy.rules.life.dates import add_years
from epolicy.rules.life.values import maturity_date
from epolicy.rules.life.vocab import TERMINAL_STATUSES
from epolicy.signing.signers import seal_document

from .documents import endorsement_data, render_endorsement
from .models import LedgerEntry, LifePolicy, LifePolicyVersion, PolicyChange
from .providers import transfer_provider
from .providers.base import TransferFailed, TransferInstruction

# Insurance law art. 87: documents of a contract longer than one year are kept ten years after it ends.
RETENTION_YEARS_AFTER_END = 10


@dataclass(frozen=True)
class Posted:
    version: LifePolicyVersion
    endorsement: ArchivedObject
    seal_certificate: str
    transfer_reference: str


def retention_for(state: PolicyState, catalogue: LifeCatalogue) -> dt.date | None:
    """Keep until 10 years after the contract ends: its termination, else its maturity; a whole-life
    policy in force has no end date yet, so its documents get none (not deletable) until it ends."""
    if state.status in TERMINAL_STATUSES:
        ended = state.terminated_on or clock.today()
        return add_years(ended, RETENTION_YEARS_AFTER_END)
    terms = catalogue.product(state.product_code).terms_for(state.effective_date)
    maturity = maturity_date(state, terms)
    if maturity is None:
        return None
    return retention_until(state.effective_date, maturity)


def _account(state: PolicyState, item: str) -> PaymentAccount | None:
    if item == "survival_benefit_withdrawal" and state.survival_account is not None:
        return state.survival_account
    return state.payment_account


def _transfer(change: PolicyChange, before: PolicyState, quote: ChangeQuote) -> str:
    """Move the net amount of the change in one instruction; "" when nothing changes hands."""
    net = quote.amount_to_receive - quote.amount_to_pay
    if not net:
        return ""
    account = _account(before, quote.item)
    instruction = TransferInstruction(
        # Stable across retries of this request (the change number alone is reused after a rollback).
        reference=f"{change.change_number}-{change.request_hash[:8]}",
        direction="disburse" if net > 0 else "collect",
        amount=abs(net),
        policy_number=before.policy_number,
        account_token=account.token if account else "",
        account_masked=account.masked_number if account else "",
        description=f"{quote.item_name_zh} {change.change_number}",
    )
    provider = transfer_provider()
    try:
        result = provider.disburse(instruction) if net > 0 else provider.collect(instruction)
    except TransferFailed as exc:
        what = "付款" if net > 0 else "收款"
        raise ApplicationError(
            "payment_state",
            f"{what}指令未被受理，本次变更未生效，请稍后重试。",
            {"reason": exc.reason, "change_number": change.change_number},
        ) from exc
    return result.provider_reference


def _endorse(
    policy: LifePolicy,
    change: PolicyChange,
    before: PolicyState,
    quote: ChangeQuote,
    result_version: int,
    catalogue: LifeCatalogue,
) -> tuple[ArchivedObject, str, str]:
    issued_at = clock.now()
    number = document_number("PE", f"{clock.local(issued_at):%Y%m%d}")
    data = endorsement_data(
        endorsement_number=number,
        change_number=change.change_number,
        quote=quote,
        before=before,
        based_on_version=change.based_on_version,
        result_version=result_version,
        issued_at=issued_at,
        catalogue=catalogue,
    )
    rendered = render_endorsement(data)
    sealed = seal_document(rendered.pdf, box=rendered.signature_box, reason="电子批单签章")
    retention = retention_for(quote.new_state, catalogue)
    document = archive_put(
        data=sealed.pdf,
        kind=ArchivedObject.Kind.ENDORSEMENT,
        name=number,
        subject=policy,
        retention=retention,
    )
    if quote.new_state.status in TERMINAL_STATUSES:
        # The contract ended: every document of the policy is now kept from this end date.
        ArchivedObject.objects.of(policy).filter(deleted_at__isnull=True).update(retention_until=retention)
    return document, number, sealed.certificate_serial


def post_change(
    *,
    policy: LifePolicy,
    change: PolicyChange,
    before: PolicyState,
    quote: ChangeQuote,
    catalogue: LifeCatalogue,
) -> Posted:
    """Version, sealed endorsement, transfer and ledger of a change; `policy` must be locked."""
    now = clock.now()
    number = policy.current_version + 1
    version = LifePolicyVersion.objects.create(
        policy=policy,
        version=number,
        state=quote.new_state.to_json(),
        change=change,
        reason=f"{quote.item_name_zh}（{change.change_number}）",
        created_at=now,
    )
    policy.current_version = number
    policy.status = quote.new_state.status
    policy.save(update_fields=["current_version", "status"])

    document, endorsement_number, certificate = _endorse(policy, change, before, quote, number, catalogue)
    reference = _transfer(change, before, quote)
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            change=change,
            line=i,
            kind=m.kind,
            direction=m.direction,
            amount=m.amount,
            description=m.description_zh[:200],
            transfer_reference=reference,
            status=LedgerEntry.Status.POSTED,
            created_at=now,
        )
        for i, m in enumerate(quote.movements, start=1)
    )
    change.status = PolicyChange.Status.APPLIED
    change.result_version = version
    change.endorsement = document
    change.endorsement_number = endorsement_number
    change.applied_at = now
    change.quote = quote.to_json()
    change.effective_date = quote.effective_date
    change.amount_to_pay = quote.amount_to_pay
    change.amount_to_receive = quote.amount_to_receive
    change.save()
    return Posted(version, document, certificate, reference)
