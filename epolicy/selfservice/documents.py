"""The signed change request (life guide §6.7: 电子签名确认): rendered from the request, signed by the
customer with a one-use event certificate (PAdES, as the motor applicant signs), archived at once."""

from __future__ import annotations

from django.db import transaction

from epolicy.archive.models import ArchivedObject
from epolicy.archive.services import archive_put
from epolicy.audit.services import audit_record
from epolicy.common import clock
from epolicy.common.masking import mask_name
from epolicy.common.money import fmt_cny
from epolicy.common.numbering import document_number
from epolicy.common.request_meta import ClientInfo
from epolicy.common.types import SignatureBox
from epolicy.documents.change_request import ChangeRequestFormData, render_change_request
from epolicy.documents.model import Field, InsurerInfo, Section, Table
from epolicy.signing.lta import lta_extend
from epolicy.signing.signers import sign_application

from .identity import evidence_summary
from .models import ChangeRequest
from .risk import METHODS

DECLARATION = (
    "本人确认：上述变更系本人真实意愿，所填信息真实、准确、完整；本人已阅读并理解变更前后对照、应收应付金额"
    "及风险影响提示，同意保险公司按本申请书办理，并以本人在上述银行账户的收付为准。本人知悉本申请书经电子签名后"
    "与书面签署具有同等法律效力。"
)


def _money(value: object) -> str:
    from decimal import Decimal

    return f"{fmt_cny(Decimal(str(value or 0)))} 元"


def form_data(req: ChangeRequest, number: str) -> ChangeRequestFormData:
    quote = req.quote
    policy = req.policy
    checks = evidence_summary(req)["checks"]
    sections = (
        Section(
            "保单信息",
            fields=(
                Field("保单号", policy.number),
                Field("投保人", mask_name(policy.applicant_name)),
                Field("申请项目", str(quote.get("item_name_zh", req.item))),
                Field("生效日期", str(quote.get("effective_date", ""))),
            ),
        ),
        Section(
            "变更内容",
            table=Table(
                header=("项目", "变更前", "变更后"),
                rows=tuple(
                    (str(line.get("label_zh", "")), str(line.get("before", "")), str(line.get("after", "")))
                    for line in quote.get("display", [])
                )
                or (("—", "—", "—"),),
            ),
        ),
        Section(
            "收付金额",
            fields=(
                Field("投保人应交", _money(quote.get("amount_to_pay"))),
                Field("投保人应领", _money(quote.get("amount_to_receive"))),
            ),
        ),
        *(
            (
                Section(
                    "审核后金额调整",
                    fields=(
                        Field("原试算应交", _money(req.first_quote.get("amount_to_pay"))),
                        Field("原试算应领", _money(req.first_quote.get("amount_to_receive"))),
                    ),
                ),
            )
            if req.first_quote
            else ()
        ),
        Section(
            "身份核验记录",
            table=Table(
                header=("方式", "结果", "时间", "凭证"),
                rows=tuple(
                    (
                        METHODS.get(c["method"], c["method"]),
                        "通过" if c["status"] == "passed" else "未通过",
                        c["at"],
                        (c["reference"] or "—")[:24],
                    )
                    for c in checks
                ),
            ),
        ),
    )
    return ChangeRequestFormData(
        request_number=number,
        insurer=InsurerInfo.from_settings(),
        sections=sections,
        impact=tuple(req.impact.get("sentences", [])),
        acknowledged_at=clock.fmt_local(req.acknowledged_at) if req.acknowledged_at else "—",
        declaration=DECLARATION,
        generated_at=clock.fmt_local(clock.now()),
    )


def sign_change_request(*, req: ChangeRequest, signature_png: bytes, client: ClientInfo) -> ArchivedObject:
    """Render, sign (event certificate, PAdES B-T, then B-LTA) and archive the change request."""
    number = document_number("BQSQ", f"{clock.local(clock.now()):%Y%m%d}")
    rendered = render_change_request(form_data(req, number))
    box = rendered.signature_box
    signed = sign_application(
        rendered.pdf,
        box=SignatureBox(page=box.page, x1=box.x1, y1=box.y1, x2=box.x2, y2=box.y2),
        signer_name=req.policy.applicant_name,
        subject_serial=req.policy.applicant_id_index[:32],
        signature_png=signature_png,
        reason="投保人确认保全变更申请",
    )
    with transaction.atomic():
        obj = archive_put(
            data=lta_extend(signed.pdf),
            kind=ArchivedObject.Kind.EVIDENCE,
            name=f"{req.policy.number}-{number}",
            subject=req.policy,
        )
        ChangeRequest.objects.filter(pk=req.pk).update(signed_request=obj)
        audit_record(
            action="selfservice.request_signed",
            actor=f"life_customer:{req.customer_id}",
            subject_type="life_change_request",
            subject_id=req.public_id,
            data={
                "number": number,
                "sha256": obj.sha256,
                "certificate_serial": signed.certificate_serial,
                "ip": client.ip or "",
            },
        )
    return obj
