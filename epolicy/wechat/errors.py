"""Error codes of the WeChat pages (docs/errors.md), registered when the app loads."""

from __future__ import annotations

from epolicy.common.errors import register_codes

WECHAT_CODES: dict[str, tuple[int, str]] = {
    "wechat_state_invalid": (
        400,
        "授权已失效或不是从本页面发起，请关闭页面后从公众号菜单重新进入。",
    ),
    "wechat_declined": (
        403,
        "您未同意微信授权，无法查询保单。如需使用，请重新进入并点击“允许”。",
    ),
    "wechat_code_invalid": (400, "微信授权已失效或已使用，请从公众号菜单重新进入。"),
    "wechat_snapshot_user": (
        403,
        "当前为微信快照页，不能登录或绑定保单。请点击页面底部“使用完整服务”后重新进入。",
    ),
    "wechat_not_signed_in": (401, "请在微信中打开本页面并完成授权登录。"),
    "wechat_bind_failed": (
        422,
        "证件号码或短信验证码不正确，请核对后重新获取验证码。",
    ),
}

register_codes(WECHAT_CODES)
