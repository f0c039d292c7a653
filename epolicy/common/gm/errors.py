"""Error codes of the SM envelope (docs/sm-envelope.md, docs/errors.md "SM envelope").

Registered on import; epolicy.common.models imports this module so the codes exist once Django starts.
"""

from __future__ import annotations

from epolicy.common.errors import register_codes

ENVELOPE_CODES: dict[str, tuple[int, str]] = {
    "envelope_malformed": (400, "国密报文格式不正确，请按接入文档组装报文后重新发送。"),
    "envelope_version": (400, "国密报文版本不受支持，请按接入文档使用版本 1。"),
    "envelope_wrong_recipient": (400, "国密报文不是发给本平台的密钥，请用平台当前的 SM2 证书重新加密。"),
    "envelope_unknown_sender": (401, "未登记该发送方或其 SM2 公钥，请联系保险公司登记证书后再发送。"),
    "envelope_signature_invalid": (401, "国密报文签名验证失败（报文可能被篡改），已拒绝，请重新组装发送。"),
    "envelope_expired": (401, "国密报文时间戳超出允许范围，请校准系统时钟后重新发送。"),
    "envelope_replayed": (409, "该国密报文已处理过（重复的随机数），请重新生成报文后发送。"),
    "envelope_binding_mismatch": (400, "国密报文签名的请求方法或地址与实际请求不一致，已拒绝。"),
    "envelope_key_invalid": (400, "无法解密国密报文中的会话密钥，请用平台当前的 SM2 公钥加密。"),
    "envelope_decrypt_failed": (400, "国密报文密文校验失败，无法解密，请重新组装发送。"),
    "envelope_sender_mismatch": (403, "接口凭证与国密报文的发送方不是同一系统，已拒绝。"),
    "envelope_required": (403, "该接口凭证须使用国密报文（SM2/SM3/SM4）调用，明文请求已拒绝。"),
    "envelope_unavailable": (503, "平台的国密报文密钥尚未配置，请联系保险公司。"),
}

register_codes(ENVELOPE_CODES)
