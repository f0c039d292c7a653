"""Error codes of motor endorsements (registered with epolicy.common.errors when Django starts)."""

from __future__ import annotations

from epolicy.common.errors import register_codes

ENDORSEMENT_CODES: dict[str, tuple[int, str]] = {
    "endorsement_kind_unknown": (422, "不支持的批改项目，请从可选的批改项目中选择。"),
    "endorsement_not_allowed": (422, "该保单不能办理这项批改。"),
    "endorsement_no_change": (422, "填写的内容与保单现有信息相同，无需批改。"),
    "endorsement_open": (409, "该保单有一项批改尚未完成，请先完成或撤回后再申请新的批改。"),
    "endorsement_state": (409, "批改申请的状态不允许这一步操作。"),
    "endorsement_expired": (409, "批改报价仅当天有效，请撤回后重新申请。"),
    "cancel_ground_invalid": (422, "退保原因不在可退保的情形之内。"),
    "policy_state": (409, "保单已退保、注销或到期，不能再批改。"),
    "realname_required": (409, "该批改须先通过实名认证。"),
    "realname_failed": (422, "实名认证未通过，请核对银行卡号及银行预留手机号。"),
    "payment_required": (409, "请先缴纳增加的保险费。"),
    "consent_required": (409, "过户须新车主输入其手机收到的验证码表示同意。"),
}


def register() -> None:
    register_codes(ENDORSEMENT_CODES)
