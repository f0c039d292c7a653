"""E-mail addresses, checked with Django's EmailValidator (so kept apart from epolicy.common.identifiers,
which the pure rules use and which must not import Django)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from .identifiers import _half_width, _refuse

EMAIL_MAX_LENGTH = 254  # RFC 5321 path limit less the angle brackets
EMAIL_LOCAL_MAX_LENGTH = 64
_EMAIL_VALIDATOR = EmailValidator(allowlist=[])


def validate_email(value: str, *, field: str = "email") -> str:
    """Email address: RFC 5322 dot-atom local part, DNS domain (Django EmailValidator); domain lower-cased."""
    code = "invalid_email"
    email = _half_width(value or "").strip()
    if not email:
        raise _refuse(code, "请填写电子邮箱地址。", field)
    if "@" not in email:
        raise _refuse(code, "电子邮箱地址缺少“@”，请填写如 name@example.com 的地址。", field)
    if any(c.isspace() for c in email):
        raise _refuse(code, "电子邮箱地址中不能有空格，请核对。", field)
    if len(email) > EMAIL_MAX_LENGTH:
        raise _refuse(code, f"电子邮箱地址不能超过 {EMAIL_MAX_LENGTH} 个字符，请核对。", field)
    local, domain = email.rsplit("@", 1)
    if not local or len(local) > EMAIL_LOCAL_MAX_LENGTH or not _EMAIL_VALIDATOR.user_regex.match(local):
        raise _refuse(
            code, "电子邮箱“@”之前的用户名不正确（只能使用英文字母、数字和 . _ - 等符号），请核对。", field
        )
    if not _EMAIL_VALIDATOR.validate_domain_part(domain):
        raise _refuse(code, "电子邮箱“@”之后的域名不正确，请填写如 example.com 的域名。", field)
    normalised = f"{local}@{domain.lower()}"
    try:
        _EMAIL_VALIDATOR(normalised)
    except ValidationError:
        raise _refuse(code, "电子邮箱地址格式不正确，请填写如 name@example.com 的地址。", field) from None
    return normalised
