"""How a change was requested: its channel, and what may be shown of its evidence.

A change's `evidence` (encrypted at rest) is whatever the requesting journey recorded about the
requester (life guide §6.2 identity, §6.3 the impact prompt, §6.7 the confirmation), for example:

    {"level": "high",
     "checks": [{"method": "sms", "status": "passed", "provider": "sandbox",
                 "reference": "<the provider's id of the check>", "at": "2026-12-01 10:00:05",
                 ...anything else the journey keeps (scores, masked numbers): never shown}],
     "acknowledged_at": "2026-12-01 10:02:00",
     "confirmation": "sms",            # or {"method": "sms", "at": ..., "reference": ...}
     ...}

(`identity` is read as well as `checks`, `result` as well as `status`; a time is ISO 8601, with its
offset or else Asia/Shanghai local time as `clock.fmt_local` writes it.)

`evidence_summary` is the only view of it that leaves the platform's database (API, history, console,
core system): the risk level, each identity method with its result, provider, reference and time, and
the acknowledgement and confirmation. Every value is checked against a narrow pattern, so a name, an ID
or card number or a phone number put in the wrong key is dropped, never shown.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from epolicy.common import clock
from epolicy.common.errors import ApplicationError

from .models import PolicyChange

CHANNEL_NAMES: dict[str, str] = dict(PolicyChange.Channel.choices)
METHOD_NAMES: dict[str, str] = {
    "binding": "保单绑定",
    "sms": "短信验证码",
    "otp": "短信验证码",
    "realname": "实名认证",
    "bank_card": "银行卡认证",
    "face": "人脸识别",
    "biometric": "生物识别",
    "video": "视频识别",
    "signature": "电子签名",
    "staff": "工作人员核实",
}
RESULT_NAMES: dict[str, str] = {
    "passed": "通过",
    "failed": "未通过",
    "expired": "已过期",
    "pending": "处理中",
}
MAX_EVIDENCE_BYTES = 65_536
MAX_IDENTITY_CHECKS = 20

_TOKEN = re.compile(r"[a-z][a-z0-9_]{0,31}")
_REFERENCE = re.compile(r"[A-Za-z0-9_.:\-]{1,80}")
_LONG_NUMBER = re.compile(r"[0-9]{11,}")  # a phone, ID or card number is never a reference to show


def check_channel(channel: str) -> str:
    """One of the channels a change may come through (PolicyChange.Channel); validation_error if not."""
    if channel not in CHANNEL_NAMES:
        listed = "、".join(CHANNEL_NAMES)
        raise ApplicationError(
            "validation_error", f"申请渠道不正确，可选：{listed}。", {"field": "channel", "channel": channel}
        )
    return channel


def check_evidence(evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    """The evidence as it will be stored: a JSON object of reasonable size; validation_error if not."""
    if evidence is None:
        return {}
    if not isinstance(evidence, Mapping):
        raise ApplicationError("validation_error", "身份核验记录须为键值对象。", {"field": "evidence"})
    try:
        text = json.dumps(dict(evidence), ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        raise ApplicationError(
            "validation_error", "身份核验记录只能包含文本、数字、列表和对象。", {"field": "evidence"}
        ) from None
    if len(text.encode()) > MAX_EVIDENCE_BYTES:
        raise ApplicationError("validation_error", "身份核验记录过长。", {"field": "evidence"})
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _token(value: Any) -> str:
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else ""


def _reference(value: Any) -> str:
    if not isinstance(value, str) or not _REFERENCE.fullmatch(value) or _LONG_NUMBER.search(value):
        return ""
    return value


def _time(value: Any) -> str | None:
    """An ISO 8601 time given back in Asia/Shanghai (+08:00); one without an offset is Shanghai local
    time (as clock.fmt_local writes it); None if it is not a time."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and len(value) <= 40:
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.SHANGHAI)
    return clock.local(moment).isoformat(timespec="seconds")


def _first(item: Mapping[str, Any], *keys: str) -> Any:
    return next((item[k] for k in keys if item.get(k) not in (None, "")), None)


def _check(item: Mapping[str, Any]) -> dict[str, Any] | None:
    method = _token(item.get("method"))
    if not method:
        return None
    result = _token(_first(item, "result", "status"))
    return {
        "method": method,
        "method_text": METHOD_NAMES.get(method, method),
        "result": result,
        "result_text": RESULT_NAMES.get(result, result),
        "provider": _token(item.get("provider")),
        "reference": _reference(_first(item, "reference", "provider_reference")),
        "at": _time(_first(item, "at", "completed_at", "checked_at", "verified_at")),
    }


def evidence_summary(evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    """What may be shown of a change's evidence: the risk level, the identity checks (method, result,
    provider, its reference, time) and the acknowledgement and confirmation; never personal data."""
    if not isinstance(evidence, Mapping):
        evidence = {}
    raw_checks = _first(evidence, "identity", "checks")
    checks = [
        summary
        for item in (raw_checks if isinstance(raw_checks, list) else [])[:MAX_IDENTITY_CHECKS]
        if isinstance(item, Mapping) and (summary := _check(item)) is not None
    ]
    confirmation = evidence.get("confirmation")
    if isinstance(confirmation, str):
        confirmation = {"method": confirmation, "at": evidence.get("confirmed_at")}
    confirmed = _check(confirmation) if isinstance(confirmation, Mapping) else None
    return {
        "level": _token(evidence.get("level")),
        "identity": checks,
        "acknowledged_at": _time(evidence.get("acknowledged_at")),
        "confirmation": confirmed,
    }
