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
    "vehicle_tax_class_unknown": (
        422,
        "车辆类别不正确，无法计算车船税。请选择乘用车、客车、货车、挂车、专用作业车或轮式专用机械车、摩托车、拖拉机之一。",
    ),
    "vehicle_tax_curb_weight_required": (
        422,
        "该类车辆按整备质量计征车船税，请填写行驶证上的整备质量（吨）。",
    ),
    "console_search_unrecognised": (
        422,
        "无法识别查询内容。请输入投保单号或保单号、18 位身份证号码、"
        "17 位车架号（VIN）或车牌号（如 京A12345）。",
    ),
    "console_filter_invalid": (422, "查询条件不正确，请按提示修改状态或日期后重新查询。"),
    "unknown_product": (422, "没有这个险种，请选择交强险（ctpl）或商业险（commercial）。"),
    "rate_table_unconfirmed": (
        422,
        "报价用到的费率表或数据尚未经保险公司确认，正式环境不能据此报价。请先在费率数据中确认后再报价。",
    ),
    "claims_history_unavailable": (503, "暂时无法查询车辆的历史出险记录（行业平台无响应），请稍后重新报价。"),
    "request_too_large": (413, "提交的内容过大，请压缩文件后重新提交（单个文件不超过 10 MB）。"),
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
    "database_unavailable": (503, "系统繁忙，暂时无法处理您的请求，请稍后重试。"),
    "link_expired": (
        410,
        "投保链接已过期。已出单的电子保单可在“保单查询”页面查询下载；如需继续投保，请联系保险公司重新发送链接。",
    ),
    "scope_denied": (403, "该接口凭证没有访问此功能的权限，请联系保险公司为其开通相应权限。"),
    "verify_busy": (503, "验真服务繁忙，请稍候片刻再重新上传。"),
    # Maintenance windows (epolicy/ops/maintenance.py, life guide §7.1)
    "service_maintenance": (503, "系统正在停机维护，保全变更暂停办理，请维护结束后再办理；查询不受影响。"),
    "maintenance_duration_invalid": (422, "维护时长须大于零且不超过 5 小时（含），请调整结束时间。"),
    "maintenance_not_off_peak": (422, "维护须整段安排在低峰时段（22:00 至次日 06:00）内，请调整时间。"),
    "maintenance_notice_invalid": (422, "维护须提前 1 至 3 个工作日公告，请调整开始日期。"),
    "maintenance_overlap": (409, "与已安排的维护窗口重叠或首尾相接，请调整时间，或先取消原窗口。"),
    "maintenance_not_cancellable": (409, "该维护窗口已取消或已结束，不能取消。"),
    "maintenance_calendar_unknown": (503, "工作日历未收录该年度的节假日安排，请管理员升级后再安排维护。"),
    # Identity-check providers (epolicy/identity/providers, docs/identity-providers.md)
    "identity_provider_unavailable": (503, "身份核验服务繁忙，请稍后重试。"),
    # Card photos read by OCR (epolicy/identity/ocr, docs/ocr.md)
    "image_invalid": (422, "无法读取该文件，请上传 JPG 或 PNG 格式的照片。"),
    "image_too_large": (413, "照片过大，请上传不超过 8 MB、每边不超过 8000 像素的照片。"),
    "ocr_blurred": (422, "照片不够清晰。请在光线充足处把证件放平，拿稳手机、对准焦点后重新拍摄。"),
    "ocr_wrong_card": (422, "照片中不是所需的证件，请按提示拍摄正确的证件。"),
    "ocr_unreadable": (
        422,
        "没有从照片中识别出文字。请让证件充满取景框，在光线充足处重新拍摄，或直接手动填写。",
    ),
    # Notifications (epolicy/notifications, docs/notifications.md)
    "delivery_state": (409, "该通知已发送、无需发送或正在发送，不能重新发送。"),
    "life_binding_failed": (
        422,
        "保单信息与您的身份信息不匹配，或您登录的手机号不是该保单预留的手机号。请核对后重试，或联系客服。",
    ),
    "life_agreement_required": (409, "办理保全变更前，请先阅读并接受保单自助服务协议。"),
    "life_agreement_changed": (409, "服务协议已更新，请阅读最新版本后再确认。"),
    "life_request_state": (409, "该保全申请当前状态不允许此操作，请按页面提示继续。"),
    "life_request_expired": (410, "该保全申请已超过有效时间，请重新申请。"),
    "life_quote_changed": (409, "变更内容或金额已更新，请重新试算并确认后再办理。"),
    "life_identity_required": (403, "该项目须先完成规定的身份核验，请按页面提示完成后再确认。"),
    "life_identity_failed": (422, "身份核验未通过，变更未办理。如非本人操作，请立即联系客服。"),
    "life_contact_missing": (422, "该保单没有预留手机号码，请联系客服更新后再办理。"),
    "life_dispute_frozen": (
        409,
        "该保单有处理中的“非本人操作”申诉，涉及资金的保全项目暂停办理，请等待工作人员联系。",
    ),
    # /ops/ready and /ops/metrics (docs/operations.md).
    "service_not_ready": (503, "服务暂不可用：部分依赖未就绪（见 checks），请稍后再试或联系运维人员。"),
    "metrics_forbidden": (403, "无权读取监控指标：请从允许的网络访问，或提供正确的指标令牌。"),
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


def register_codes(codes: dict[str, tuple[int, str]]) -> None:
    """Add the codes a lower-level package keeps beside its rules (epolicy.rules.life.errors registers
    its own when imported; the products app imports it when Django starts). A code means one thing
    everywhere: defining one twice is an error."""
    twice = set(CODES) & set(codes)
    if any(CODES[c] != codes[c] for c in twice):
        raise RuntimeError(f"error codes defined twice: {sorted(twice)}")
    CODES.update(codes)
