"""What the request (signed by the applicant) and the sealed e-endorsement show, built from the policy's
state before and after the change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from epolicy.common import clock
from epolicy.common.masking import mask_id_number, mask_name, mask_phone
from epolicy.common.money import cny_upper, fmt_cny
from epolicy.documents.change_request import ChangeRequestFormData, render_change_request
from epolicy.documents.epolicy_form import render_epolicy
from epolicy.documents.model import Field, InsurerInfo, RenderedDocument, Section, Table
from epolicy.documents.motor_endorsement_form import MotorEndorsementData, render_motor_endorsement
from epolicy.policies.links import verify_url
from epolicy.policies.models import Policy
from epolicy.products.motor_endorsements import endorsement_catalogue
from epolicy.products.motor_products import motor_catalogue

from .. import display
from ..models import Application, Endorsement

REQUEST_TITLE = "机动车保险批改申请书"
DECLARATION = (
    "本人为该保险单的投保人，已阅读并确认上述批改内容及收付金额。本人知悉：批改经保险人同意并出具批单后生效，"
    "批单是保险合同的组成部分；退保后保险合同自批改生效日零时起解除。"
)


def change_rows(e: Endorsement, before: Application) -> tuple[tuple[str, str, str], ...]:
    """(项目, 变更前, 变更后) for the request and the e-endorsement (the document goes to the applicant:
    values in full, except identity numbers of other people, masked)."""
    c = e.changes
    if e.kind == "contact":
        labels = {"phone": "投保人手机号码", "email": "投保人电子邮箱", "address": "投保人联系地址"}
        return tuple((labels[k], e.before.get(k) or "（未填写）", v) for k, v in c.items() if k in labels)
    if e.kind == "plate":
        return (("号牌号码", f"（新车未上牌，VIN {before.vin}）", c["plate"]),)
    if e.kind == "vehicle":
        labels = {"vin": "车辆识别代号（VIN）", "engine_number": "发动机号", "brand_model": "厂牌型号"}
        return tuple((labels[k], str(e.before.get(k, "")), str(v)) for k, v in c.items() if k in labels)
    if e.kind == "transfer":
        new = c["new_owner"]
        who = f"{new['name']}（证件 {mask_id_number(new['id_number'])}，手机 {mask_phone(new['phone'])}）"
        return (
            ("机动车所有人", before.owner.name, who),
            ("被保险人", before.insured.name, who),
        )
    if e.kind == "coverage":
        from .coverage import coverage_rows

        return coverage_rows(c, e.before)
    if e.kind == "cancel":
        return (("保单状态", "有效" if e.policy.status == Policy.Status.IN_FORCE else "未起保", "已退保"),)
    return ()


def _policy_section(policy: Policy, view: Application) -> Section:
    product = motor_catalogue().product(policy.product)
    return Section(
        "保单信息",
        (
            Field("保险单号", policy.number),
            Field("险种", product.name_zh),
            Field("投保人", view.applicant.name),
            Field("被保险人", view.insured.name),
            Field("号牌号码", view.plate or f"新车未上牌（VIN {view.vin}）"),
            Field("保险期间", display.period_text(policy.period_start, policy.period_end)),
        ),
    )


def _change_section(e: Endorsement) -> Section:
    spec = endorsement_catalogue().kind(e.kind)
    fields = [
        Field("批改项目", spec.label_zh),
        Field("申请日期", f"{e.quoted_on:%Y年%m月%d日}"),
        Field("批改生效", f"{e.effective_on:%Y年%m月%d日}零时起"),
    ]
    if e.kind == "cancel":
        fields.append(Field("退保原因", e.changes["ground_zh"]))
    return Section("批改信息", tuple(fields))


def _money_section(e: Endorsement) -> Section | None:
    if e.premium_due > 0:
        return Section(
            "保险费计算",
            (Field("应补交保险费", f"{fmt_cny(e.premium_due)}元（投保人本人缴纳后生效）"),),
            paragraphs=(e.refund_basis,),
        )
    if e.refund > 0 or e.kind == "cancel":
        return Section(
            "退费计算",
            (Field("应退保险费", f"{fmt_cny(e.refund)}元（原路退回付款账户）"),),
            paragraphs=(e.refund_basis,),
        )
    return None


def render_request(e: Endorsement, before: Application) -> RenderedDocument:
    rows = change_rows(e, before)
    sections = [_policy_section(e.policy, before), _change_section(e)]
    sections.append(Section("变更内容", table=Table(("项目", "变更前", "变更后"), rows)))
    money = _money_section(e)
    if money is not None:
        sections.append(money)
    spec = endorsement_catalogue().kind(e.kind)
    checks = "、".join({"sms": "短信验证码", "realname": "实名认证（四要素）"}[a] for a in spec.auth)
    if spec.consent:
        checks += "、新车主短信同意"
    sections.append(Section("身份核验", (Field("核验方式", checks),)))
    now = clock.now()
    return render_change_request(
        ChangeRequestFormData(
            request_number=e.number,
            insurer=InsurerInfo.from_settings(),
            sections=tuple(sections),
            impact=_impact(e),
            acknowledged_at=clock.fmt_local(now),
            declaration=DECLARATION,
            generated_at=clock.fmt_local(now),
            title=REQUEST_TITLE,
        )
    )


def _impact(e: Endorsement) -> tuple[str, ...]:
    if e.kind == "cancel":
        return (
            "退保后保险合同解除，车辆自批改生效日零时起不再享有本保险的保障。",
            "交强险是法定保险：车辆上道路行驶必须投保交强险，未投保的将被扣留车辆并处罚款。"
            if e.policy.product == "ctpl"
            else "商业险退保后，发生事故的损失不再由本保险赔偿。",
        )
    if e.kind == "transfer":
        return ("过户后保险合同的被保险人变更为新车主；续保时无赔款优待按过户车辆重新计算。",)
    return ("批改生效后，保险单以原保单及全部批单的内容为准。",)


def render_endorsement(
    e: Endorsement,
    policy: Policy,
    before: Application,
    after: Application,
    *,
    issued_at: dt.datetime,
    tax_text: str,
) -> RenderedDocument:
    catalogue = motor_catalogue()
    product = catalogue.product(policy.product)
    rows = change_rows(e, before)
    sections = [_policy_section(policy, after), _change_section(e)]
    sections.append(Section("变更内容", table=Table(("项目", "变更前", "变更后"), rows)))
    money = _money_section(e)
    if money is not None:
        sections.append(money)
    spec = endorsement_catalogue().kind(e.kind)
    lines = [
        f"经投保人申请（电子签名于 {clock.fmt_local(e.signed_at) if e.signed_at else ''}，"
        f"经{'、'.join({'sms': '短信验证码', 'realname': '实名认证'}[a] for a in spec.auth)}核验），"
        f"本保险单{spec.label_zh}，自 {e.effective_on:%Y年%m月%d日}零时起生效。",
    ]
    if e.kind == "cancel":
        lines.append(f"本保险合同自该时起解除，应退保险费人民币 {fmt_cny(e.refund)} 元原路退回付款账户。")
    elif e.premium_due > 0:
        lines.append(f"投保人已缴纳增加的保险费人民币 {fmt_cny(e.premium_due)} 元。")
    elif e.refund > 0:
        lines.append(f"应退保险费人民币 {fmt_cny(e.refund)} 元原路退回付款账户。")
    if tax_text:
        lines.append(tax_text)
    if e.kind == "transfer":
        lines.append("车船税：转让过户不退税、不另纳税（车船税法实施条例 第二十条）。本次过户不调整保险费。")
    if spec.new_mark and policy.mark_document_id:
        lines.append("本次批改改变了交强险标志所示内容，保险人同时出具新的电子交强险标志，原标志作废。")
    lines.append("除本批改内容外，保险单其他内容不变。")
    return render_motor_endorsement(
        MotorEndorsementData(
            endorsement_number=e.number,
            policy_number=policy.number,
            title=product.name_zh + "批单",
            issued_at=clock.fmt_local(issued_at),
            insurer=InsurerInfo.from_settings(),
            sections=tuple(sections),
            lines=tuple(lines),
            amount_label="应补交保险费"
            if e.premium_due > 0
            else ("应退保险费" if e.refund or e.kind == "cancel" else "收付金额"),
            amount=f"{fmt_cny(e.premium_due or e.refund)}元",
            amount_upper=cny_upper(e.premium_due or e.refund),
            verify_url=verify_url(e.number, e.verify_code),
        )
    )


def render_mark(view: Application, policy: Policy, *, issued_at: dt.datetime) -> RenderedDocument:
    return render_epolicy(display.mark_data(view, policy.number, issued_at, policy.verify_code))


def masked_changes(e: Endorsement) -> dict[str, Any]:
    """What the API and the console show of the changes (other people's data masked)."""
    c = dict(e.changes)
    if "new_owner" in c:
        o = c.pop("new_owner")
        c["new_owner"] = {"name": mask_name(o["name"]), "id_number": mask_id_number(o["id_number"])}
        c.pop("new_owner_id", None)
    if "phone" in c:
        c["phone"] = mask_phone(c["phone"])
    return c
