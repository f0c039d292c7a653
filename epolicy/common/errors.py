"""ApplicationError: a stable code, a Chinese message saying what to do next, and details.

Every code raised anywhere is listed in CODES (and in docs/errors.md; a test keeps the two equal).
"""

from __future__ import annotations

from typing import Any

# code -> (HTTP status, default Chinese message)
CODES: dict[str, tuple[int, str]] = {
    "validation_error": (422, "提交的信息有误，请按提示修改后重试。"),
    "not_found": (404, "没有找到对应的记录，请检查链接或编号是否正确。"),
    "not_authenticated": (401, "请先登录或提供有效的接口凭证。"),
    "permission_denied": (403, "您没有权限进行此操作。"),
    "rate_limited": (429, "操作过于频繁，请稍后再试。"),
    "invalid_id_number": (422, "身份证号码不正确，请核对 18 位号码（最后一位可能是 X）。"),
    "invalid_vin": (422, "车架号（VIN）不正确，请核对 17 位车架号，第 9 位为校验位。"),
    "invalid_plate": (422, "车牌号不正确，请填写如“京A12345”或新能源“京AD12345”的号码。"),
    "invalid_phone": (422, "手机号码不正确，请填写 11 位大陆手机号码。"),
    "invalid_bank_card": (422, "银行卡号不正确，请核对卡号。"),
    "invalid_postcode": (422, "邮政编码不正确，请填写 6 位数字。"),
    "invalid_uscc": (422, "统一社会信用代码不正确，请核对 18 位代码。"),
    "invalid_email": (422, "电子邮箱地址不正确，请核对后重新填写。"),
    "quote_not_available": (422, "该车辆暂不支持线上报价，请联系客服。"),
    "rate_table_missing": (422, "投保日期没有适用的费率表，请联系保险公司。"),
    "invalid_period": (422, "保险期间不正确：起保日期须在今天之后，期限为一年。"),
    "application_state": (409, "投保单当前状态不允许此操作。"),
    "documents_not_read": (409, "请先阅读全部投保文件，再进行签名。"),
    "signature_invalid": (422, "手写签名无效，请在签名区域重新签名。"),
    "not_signed": (409, "请先完成投保单签名，再进行下一步。"),
    "otp_required": (409, "请先完成短信验证，再进行支付。"),
    "otp_invalid": (422, "验证码不正确，请核对短信中的 6 位数字。"),
    "otp_expired": (422, "验证码已过期，请重新获取。"),
    "otp_locked": (422, "验证码错误次数过多，请重新获取验证码。"),
    "otp_cooldown": (429, "验证码发送过于频繁，请稍后再获取。"),
    "payment_signature_invalid": (400, "支付通知签名无效，已拒绝。"),
    "payment_payer_mismatch": (
        422,
        "付款人与投保人不一致：根据实名缴费要求，须由投保人本人付款。请用投保人本人的账户重新支付。",
    ),
    "payment_amount_mismatch": (422, "支付金额与应缴保费不一致，已拒绝。"),
    "payment_state": (409, "当前支付状态不允许此操作。"),
    "captcha_invalid": (422, "图形验证码不正确或已过期，请刷新后重新输入。"),
    "policy_query_no_match": (404, "没有查到匹配的保单，请核对保单号、投保人证件号码和车牌号。"),
    "download_link_invalid": (404, "下载链接无效或已过期，请重新查询。"),
    "verify_file_missing": (422, "请选择要验真的电子保单 PDF 文件。"),
    "verify_file_too_large": (413, "文件过大，电子保单 PDF 不超过 10 MB。"),
    "pki_missing": (503, "签名证书尚未配置，请管理员先运行 epolicy pki_init。"),
    "approval_rejected": (422, "投保信息未通过核保规则，不能审批通过。"),
    "archive_retention_active": (409, "影像资料仍在保存期限内，期满之前不能删除。"),
    "archive_four_eyes": (403, "删除须由另一名有审批权限的工作人员审批。"),
    "core_system_unavailable": (503, "核心业务系统暂时无法处理，请稍后重试；如已提交，请勿重复提交。"),
    "archive_unavailable": (503, "影像资料的两处副本均无法通过完整性校验，已记录并通知管理员。"),
    "internal_error": (500, "系统暂时无法处理您的请求，请稍后重试；如问题持续，请联系客服并提供错误编号。"),
    "link_expired": (
        410,
        "投保链接已过期。已出单的电子保单可在“保单查询”页面查询下载；如需继续投保，请联系保险公司重新发送链接。",
    ),
    "scope_denied": (403, "该接口凭证没有访问此功能的权限，请联系保险公司为其开通相应权限。"),
    "verify_busy": (503, "验真服务繁忙，请稍候片刻再重新上传。"),
}


class ApplicationError(Exception):
    """A refusal the user can act on: code (stable), message_zh (what to do), details (field hints)."""

    def __init__(self, code: str, message_zh: str | None = None, details: dict[str, Any] | None = None):
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}: add it to epolicy.common.errors.CODES")
        self.code = code
        self.status = CODES[code][0]
        self.message_zh = message_zh or CODES[code][1]
        self.details = details or {}
        super().__init__(f"{code}: {self.message_zh}")

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message_zh, "details": self.details}


# The life-servicing engine keeps its codes beside its rules. Imported last: that package's modules
# import ApplicationError from here.
from epolicy.rules.life.errors import LIFE_CODES  # noqa: E402

if set(CODES) & set(LIFE_CODES):  # a code means one thing everywhere
    raise RuntimeError(f"error codes defined twice: {sorted(set(CODES) & set(LIFE_CODES))}")
CODES.update(LIFE_CODES)
