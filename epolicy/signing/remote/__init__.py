"""The signing service as a separate internal process (motor standard §7.1.3 签章验签服务器).

By default the platform signs in-process (`epolicy.signing.signers`). When `SIGNING_SERVICE_URL` is set,
the signers hand the work to `remote.client`, which calls the service that `epolicy signing_server`
runs on the machine holding the keys (`remote.server`, URLs in `config.signing_urls`). Requests and
responses are authenticated with a shared secret (`remote.auth`). See docs/signing-service.md.

This module holds only the protocol's constants, so that importing the client stays cheap.
"""

from __future__ import annotations

PROTOCOL_VERSION = 1
# Every endpoint lives under this path, on the service's own URLconf.
API_PREFIX = "/internal/signing/v1/"
# Largest request body the service reads: base64 makes a PDF a third larger, so this admits PDFs of
# about 15 MB (an e-policy is well under 1 MB; an e-application with its attachments a few MB).
MAX_BODY_BYTES = 20 * 1024 * 1024

# The service's own error codes (its wire protocol, between the platform and its signing service): code
# -> (HTTP status, message for the operator). Errors raised by the signing functions themselves travel
# as their ApplicationError code (for example `pki_missing`) and are raised again by the client.
SERVICE_ERRORS: dict[str, tuple[int, str]] = {
    "auth_missing": (401, "缺少签章服务认证信息（Authorization 与 X-EPSign-Time 请求头）。"),
    "auth_unknown_key": (401, "签章服务不认识该密钥标识，请核对两端的 EPOLICY_SIGNING_SERVICE_TOKEN。"),
    "auth_invalid": (401, "签章服务认证失败：请求签名不正确。"),
    "auth_stale": (401, "请求时间与签章服务器时间相差超过 5 分钟，请校准两端服务器的时钟。"),
    "auth_replayed": (401, "该请求已被处理过，重放的请求已拒绝。"),
    "not_found": (404, "签章服务没有这个接口。"),
    "method_not_allowed": (405, "签章服务接口不支持该请求方法。"),
    "body_too_large": (413, "请求内容超过签章服务的上限（20 MB）。"),
    "invalid_json": (422, "请求内容不是有效的 JSON 对象。"),
    "invalid_request": (422, "签章请求的参数有误。"),
    "invalid_pdf": (422, "文件不是可读取的 PDF，无法签章。"),
    "internal_error": (500, "签章服务内部错误，请查看签章服务日志。"),
    "service_misconfigured": (
        500,
        "签章服务配置有误：签章服务进程不得设置 EPOLICY_SIGNING_SERVICE_URL（否则会把请求转发给自己）。",
    ),
    "lta_unavailable": (501, "签章服务尚未提供长期验证（LTA）签章功能。"),
    "envelope_required": (
        400,
        "签章服务要求国密报文：请在应用服务器配置 EPOLICY_SIGNING_SERVICE_SM_PEER_FILE"
        "（签章服务的 SM2 证书）。",
    ),
}
